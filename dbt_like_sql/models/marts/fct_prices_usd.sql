-- Daily prices converted to US dollars with the day's fixing (units of the currency per dollar),
-- flagged where the listing exchange was closed that day.
select
    p.symbol,
    p.trade_date,
    p.currency,
    p.close,
    fx.usd_rate,
    p.open / fx.usd_rate as open_usd,
    p.high / fx.usd_rate as high_usd,
    p.low / fx.usd_rate as low_usd,
    p.close / fx.usd_rate as close_usd,
    p.volume,
    p.close / fx.usd_rate * p.volume as traded_value_usd,
    h.holiday_date is not null as is_exchange_holiday
from {{ ref('stg_prices') }} as p
left join {{ ref('stg_fx_rates') }} as fx
    on fx.currency = p.currency and fx.trade_date = p.trade_date
left join {{ ref('dim_instrument') }} as i on i.symbol = p.symbol
left join {{ ref('exchange_calendar') }} as h
    on h.exchange_mic = i.exchange_mic and h.holiday_date = p.trade_date
