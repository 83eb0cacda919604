-- Units of each currency per US dollar by day, with the dollar itself at 1 so every listing
-- currency joins, USD included.
with fixings as (
    select
        "DATE" as trade_date,
        quote as currency,
        rate as usd_rate
    from {{ source('raw', 'fx_rates') }}
    where base = 'USD'
)

select trade_date, currency, usd_rate
from fixings

union all

select distinct
    trade_date,
    'USD' as currency,
    cast(1 as float) as usd_rate
from fixings
