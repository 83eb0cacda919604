-- Two versions of one instrument that hold on the same day: the history would answer "which
-- sector on date D" twice. Each row returned is such a pair.
select a.symbol, a.valid_from, a.valid_to, b.valid_from as other_valid_from
from {{ ref('dim_instrument_history') }} as a
join {{ ref('dim_instrument_history') }} as b
    on a.symbol = b.symbol
    and a.valid_from < b.valid_from
    and (a.valid_to is null or a.valid_to > b.valid_from)
