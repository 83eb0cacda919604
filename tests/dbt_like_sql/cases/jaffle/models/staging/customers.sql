select customer_id, first_name, tier, '{{ target.schema }}' as built_in from {{ ref('raw_customers') }}
