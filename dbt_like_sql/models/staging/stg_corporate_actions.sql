-- Splits and dividends with the vendor's empty fields made explicit per action type.
select
    action_id,
    symbol,
    ex_date,
    lower(action_type) as action_type,
    iff(lower(action_type) = 'split', ratio, null) as split_ratio,
    iff(lower(action_type) = 'dividend', amount, null) as dividend_amount,
    currency
from {{ source('raw', 'corporate_actions') }}
