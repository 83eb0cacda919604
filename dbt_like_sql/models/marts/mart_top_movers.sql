-- The biggest gainers and losers of each trading day by daily return, with what a reader needs
-- to recognise the instrument.
with returns as (
    select trade_date, symbol, daily_return
    from {{ ref('fct_daily_returns') }}
),

gainers as (
    select
        trade_date,
        symbol,
        daily_return,
        'gainer' as direction,
        row_number() over (partition by trade_date order by daily_return desc, symbol) as move_rank
    from returns
    qualify move_rank <= {{ var('top_movers_per_day') }}
),

losers as (
    select
        trade_date,
        symbol,
        daily_return,
        'loser' as direction,
        row_number() over (partition by trade_date order by daily_return asc, symbol) as move_rank
    from returns
    qualify move_rank <= {{ var('top_movers_per_day') }}
),

movers as (
    select * from gainers
    union all
    select * from losers
)

select
    m.trade_date,
    m.direction,
    m.move_rank,
    m.symbol,
    i.instrument_name,
    i.sector,
    i.exchange_mic,
    m.daily_return,
    p.close_usd,
    p.traded_value_usd
from movers as m
left join {{ ref('dim_instrument') }} as i on i.symbol = m.symbol
left join {{ ref('fct_prices_usd') }} as p on p.symbol = m.symbol and p.trade_date = m.trade_date
