{{ config(materialized='ephemeral') }}
select order_id, customer_id, status, {{ cents_utils.to_dollars('amount_cents') }} as amount,
       {{ is_open('status') }} as is_open
from {{ ref('raw_orders') }}
