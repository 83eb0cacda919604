-- One row per instrument: the vendor's latest reference snapshot, with the exchange, currency
-- and sector reference data that business users filter and group by.
with instruments as (
    select symbol, isin, name, exchange, currency, sector, listed_on
    from {{ source('raw', 'instruments') }}
    qualify row_number() over (partition by symbol order by _partition desc) = 1
)

select
    i.symbol,
    i.isin,
    i.name as instrument_name,
    i.exchange as exchange_mic,
    e.exchange_name,
    e.country_code,
    e.timezone as exchange_timezone,
    i.currency,
    c.currency_name,
    i.sector,
    s.gics_sector_code,
    s.sector_group,
    i.listed_on
from instruments as i
left join {{ ref('exchanges') }} as e on e.exchange_mic = i.exchange
left join {{ ref('currencies') }} as c on c.currency_code = i.currency
left join {{ ref('sector_mapping') }} as s on s.sector = i.sector
