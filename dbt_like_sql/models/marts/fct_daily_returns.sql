{{ config(materialized='incremental', unique_key=['symbol', 'trade_date']) }}
-- Daily total returns from adjusted closes. A return compares two closes adjusted by the same
-- later factors, so it does not change when later actions arrive: each run adds only the days
-- after the newest one in the table. A full refresh recomputes all (needed only if an action
-- is delivered after its ex-date).
with adjusted as (
    select symbol, trade_date, adj_close
    from {{ ref('fct_prices_adjusted') }}
),

returns as (
    select
        symbol,
        trade_date,
        lag(trade_date) over (partition by symbol order by trade_date) as previous_trade_date,
        adj_close,
        lag(adj_close) over (partition by symbol order by trade_date) as previous_adj_close
    from adjusted
)

select
    symbol,
    trade_date,
    previous_trade_date,
    adj_close,
    previous_adj_close,
    adj_close / previous_adj_close - 1 as daily_return,
    ln(adj_close / previous_adj_close) as log_return
from returns
where previous_adj_close is not null
{% if is_incremental() %}
    and trade_date > (select coalesce(max(trade_date), '1900-01-01'::date) from {{ this }})
{% endif %}
