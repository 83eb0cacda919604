{% test at_most(model, column_name, maximum) %}
select {{ column_name }} from {{ model }} where {{ column_name }} > {{ maximum }}
{% endtest %}
