-- One row per RAW table: how many rows it holds, how many values are missing where the
-- catalogue requires one, the newest business date in it, and how many partitions are loaded.
{%- set raw_tables = {
    'prices': {'date': 'date', 'required': ['symbol', 'date', 'open', 'high', 'low', 'close', 'volume', 'currency']},
    'fx_rates': {'date': 'date', 'required': ['date', 'base', 'quote', 'rate']},
    'intraday_prices': {'date': 'ts', 'required': ['symbol', 'ts', 'open', 'high', 'low', 'close', 'volume', 'seq']},
    'instruments': {'date': 'listed_on', 'required': ['symbol', 'isin', 'name', 'exchange', 'currency', 'sector', 'listed_on']},
    'corporate_actions': {'date': 'ex_date', 'required': ['action_id', 'symbol', 'ex_date', 'action_type']},
} %}
{% for table, spec in raw_tables.items() %}
select
    '{{ table }}' as source_table,
    count(*) as row_count,
    {% for column in spec.required %}count_if("{{ column | upper }}" is null){{ ' + ' if not loop.last }}{% endfor %} as null_count,
    cast(max("{{ spec.date | upper }}") as date) as latest_date,
    count(distinct _partition) as partition_count
from {{ source('raw', table) }}
{% if not loop.last %}union all{% endif %}
{%- endfor %}
