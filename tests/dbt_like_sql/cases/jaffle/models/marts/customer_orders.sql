{{ config(pre_hook="{{ create_build_log() }}") }}
select c.customer_id, c.first_name, count(o.order_id) as orders, sum(o.amount) as amount,
       count_if(o.is_open) as open_orders
from {{ ref('customers') }} as c
left join {{ ref('stg_orders') }} as o on o.customer_id = c.customer_id
group by c.customer_id, c.first_name
