{% snapshot snap_instruments %}
{{
    config(
        unique_key='symbol',
        strategy='check',
        check_cols=['isin', 'name', 'exchange', 'currency', 'sector', 'listed_on'],
        updated_at='snapshot_date',
        invalidate_hard_deletes=true,
    )
}}
-- The newest daily reference snapshot the vendor delivered. Each run keeps a new version of an
-- instrument whose reference data changed (a rename, a sector move), dated by the snapshot it was
-- first seen in, and closes an instrument the snapshot no longer lists (a delisting) on that date.
-- It records the snapshots it is run on: run it after each day's load (Dagster does), since days
-- loaded between two runs are seen only through the newest.
select symbol, isin, name, exchange, currency, sector, listed_on, cast(_partition as date) as snapshot_date
from {{ source('raw', 'instruments') }}
where _partition like '____-__-__'  -- a day's snapshot (YYYY-MM-DD)
qualify _partition = max(_partition) over ()
{% endsnapshot %}
