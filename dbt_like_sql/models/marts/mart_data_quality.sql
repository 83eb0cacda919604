-- One row per RAW table: how many rows it holds, how many values are missing where its
-- declaration requires one, the newest business date in it, and how many partitions are loaded.
-- The tables are the declared datasets (graph.sources), so a new declaration adds its row here.
{%- set tables = [] %}
{%- for node in graph.sources.values() | sort(attribute='name') if node.source_name == 'raw' %}
{%- do tables.append(node) %}
{%- endfor %}
{% for node in tables %}
select
    '{{ node.name }}' as source_table,
    count(*) as row_count,
    {% for column in node.meta.required_columns %}count_if("{{ column | upper }}" is null){{ ' + ' if not loop.last }}{% else %}0{% endfor %} as null_count,
    {% if node.meta.business_date %}cast(max("{{ node.meta.business_date | upper }}") as date){% else %}cast(null as date){% endif %} as latest_date,
    count(distinct _partition) as partition_count
from {{ source('raw', node.name) }}
{% if not loop.last %}union all{% endif %}
{%- endfor %}
