-- Split- and dividend-adjusted prices by standard backward adjustment: every price before an
-- ex-date is divided by the split ratio, or multiplied by (1 - dividend / previous close), where
-- the previous close is the last close before the ex-date. A price carries the product of the
-- factors of all later ex-dates, so the latest prices are unadjusted and a series has no jumps.
with prices as (
    select symbol, trade_date, currency, open, high, low, close, volume
    from {{ ref('stg_prices') }}
),

actions as (
    select action_id, symbol, ex_date, action_type, split_ratio, dividend_amount
    from {{ ref('stg_corporate_actions') }}
),

previous_close as (
    select a.action_id, p.close as previous_close
    from actions as a
    inner join prices as p on p.symbol = a.symbol and p.trade_date < a.ex_date
    qualify row_number() over (partition by a.action_id order by p.trade_date desc) = 1
),

factors as (
    select
        a.symbol,
        a.ex_date,
        case
            when a.action_type = 'split' then 1 / a.split_ratio
            when a.action_type = 'dividend' then 1 - a.dividend_amount / pc.previous_close
        end as factor
    from actions as a
    left join previous_close as pc on pc.action_id = a.action_id
),

cumulative as (
    select p.symbol, p.trade_date, exp(sum(ln(f.factor))) as adjustment_factor
    from prices as p
    inner join factors as f on f.symbol = p.symbol and f.ex_date > p.trade_date
    where f.factor > 0
    group by p.symbol, p.trade_date
)

select
    p.symbol,
    p.trade_date,
    p.currency,
    p.open,
    p.high,
    p.low,
    p.close,
    p.volume,
    coalesce(c.adjustment_factor, 1) as adjustment_factor,
    p.open * coalesce(c.adjustment_factor, 1) as adj_open,
    p.high * coalesce(c.adjustment_factor, 1) as adj_high,
    p.low * coalesce(c.adjustment_factor, 1) as adj_low,
    p.close * coalesce(c.adjustment_factor, 1) as adj_close
from prices as p
left join cumulative as c on c.symbol = p.symbol and c.trade_date = p.trade_date
