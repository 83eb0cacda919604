{% snapshot customers_history %}
{{ config(unique_key='customer_id', strategy='timestamp', updated_at='updated_at') }}
select customer_id, tier, updated_at from {{ ref('raw_customers') }}
{% endsnapshot %}
