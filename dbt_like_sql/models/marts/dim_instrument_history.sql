-- Instrument reference data through time: one row per version kept by the snap_instruments
-- snapshot, so a question about a past date sees the name, exchange and sector the instrument had
-- then. A version holds from valid_from (inclusive) until valid_to (exclusive); the current one
-- has no valid_to. An instrument delisted has no current version.
select
    h.symbol,
    h.isin,
    h.name as instrument_name,
    h.exchange as exchange_mic,
    h.currency,
    h.sector,
    s.gics_sector_code,
    s.sector_group,
    h.listed_on,
    cast(h.dbt_valid_from as date) as valid_from,
    cast(h.dbt_valid_to as date) as valid_to,
    h.dbt_valid_to is null as is_current
from {{ ref('snap_instruments') }} as h
left join {{ ref('sector_mapping') }} as s on s.sector = h.sector
