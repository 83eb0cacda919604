-- Daily prices as delivered, one row per instrument and trading day, named as the marts use them.
select
    symbol,
    "DATE" as trade_date,
    open,
    high,
    low,
    close,
    volume,
    currency
from {{ source('raw', 'prices') }}
