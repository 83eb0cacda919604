select c.customer_id from {{ ref('customers') }} as c where c.first_name is null
