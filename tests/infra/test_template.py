"""The AWS template passes cfn-lint, grants each service only what its code calls, and wires the platform together.

Every IAM statement is checked for wildcards; each container's environment is checked against
what `platform_defs.settings` requires; the alarms, services, database and image are checked
against what the platform's code relies on (one daemon, passwords only as secrets, the
production install, the `run` container EcsRunLauncher overrides).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

from lambda_workers.chain.cursor_store import chains_path, halt_parameter_name, parameter_name
from lambda_workers.chain.fence import lease_key
from lambda_workers.events import ChainAddress
from platform_defs.datasets import DATASETS
from platform_defs.settings import REQUIRED_VARIABLES, load_settings, vendor_secret_parameter

ROOT = Path(__file__).parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
DOCKERFILE = ROOT / "infra" / "Dockerfile"
ENTRYPOINT = ROOT / "infra" / "entrypoint.sh"
DOCKERIGNORE = ROOT / ".dockerignore"

UNSCOPABLE_ACTIONS: dict[str, tuple[str, str] | None] = {
    # The registry's login token: IAM defines no resource for it.
    "ecr:GetAuthorizationToken": None,
    # EcsRunLauncher's constructor resolves its task definition: DescribeTaskDefinition has no resource type.
    "ecs:DescribeTaskDefinition": None,
    # Metrics have no ARN; the condition confines the grant to Baton's namespace (the watchdog's StalledChains).
    "cloudwatch:PutMetricData": ("cloudwatch:namespace", "Baton"),
}
"""The only actions a statement may grant on Resource "*", each with the condition it must carry."""

SERVICE_ROLES = {
    "ChainRole": "lambda.amazonaws.com",
    "TaskExecutionRole": "ecs-tasks.amazonaws.com",
    "WebserverRole": "ecs-tasks.amazonaws.com",
    "DaemonRole": "ecs-tasks.amazonaws.com",
    "RunRole": "ecs-tasks.amazonaws.com",
}
TASKS = {  # task definition: (its container, its role)
    "WebserverTaskDefinition": ("webserver", "WebserverRole"),
    "DaemonTaskDefinition": ("daemon", "DaemonRole"),
    "RunTaskDefinition": ("run", "RunRole"),  # the container EcsRunLauncher overrides (instance_config.RUN_CONTAINER)
}
STORAGE_VARIABLES = ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_DB", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD")
LAUNCHER_VARIABLES = (
    "BATON_ECS_CLUSTER",
    "BATON_RUN_TASK_DEFINITION",
    "BATON_RUN_SUBNETS",
    "BATON_RUN_SECURITY_GROUPS",
)
SECRETS = {
    "SNOWFLAKE_PASSWORD": {"Ref": "SnowflakePasswordSecret"},
    "DAGSTER_PG_PASSWORD": {"Fn::Sub": "${DatabasePasswordSecret}:password::"},
}


@cache
def _template() -> dict[str, Any]:
    template, problems = decode(str(TEMPLATE))
    assert not problems
    return template


def _resources(kind: str | None = None) -> dict[str, Any]:
    return {name: r for name, r in _template()["Resources"].items() if kind is None or r["Type"] == kind}


def _props(name: str) -> dict[str, Any]:
    return _template()["Resources"][name]["Properties"]


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _get_att(name: str, attribute: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [name, attribute]}


def _text(value: Any) -> str:
    """A resource as the text of its ARN, intrinsics as `${...}`: what a wildcard check can read."""
    if isinstance(value, str):
        return value
    if "Fn::Sub" in value:
        return value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    raise AssertionError(f"a resource the wildcard check cannot read: {value}")


def _statements() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every statement of every IAM identity policy, with where it is (`<resource>/<policy>/<Sid>`)."""
    for name, resource in _resources().items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            documents = [(f"{name}/{p['PolicyName']}", p["PolicyDocument"]) for p in props.get("Policies", [])]
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents = [(name, props["PolicyDocument"])]
        else:
            continue
        for where, document in documents:
            for statement in _as_list(document["Statement"]):
                yield f"{where}/{statement.get('Sid', '?')}", statement


def _role_statements(role: str) -> list[dict[str, Any]]:
    return [statement for where, statement in _statements() if where.startswith(f"{role}/")]


def _role_actions(role: str) -> set[str]:
    return {action for statement in _role_statements(role) for action in _as_list(statement["Action"])}


def _granting(role: str, action: str) -> dict[str, Any]:
    (statement,) = [s for s in _role_statements(role) if action in _as_list(s["Action"])]
    return statement


def _objects_granted(role: str, action: str) -> list[str]:
    """The lake keys (as patterns) a role may act on."""
    return [
        _text(resource).removeprefix("${LakeBucket.Arn}/")
        for statement in _role_statements(role)
        if action in _as_list(statement["Action"])
        for resource in _as_list(statement["Resource"])
        if _text(resource).startswith("${LakeBucket.Arn}/")
    ]


def _scoped(resource: str) -> bool:
    """No `*`, or one trailing `/*` or `:*` after a prefix naming a resource or parameter of this template."""
    if "*" not in resource:
        return True
    head = resource[:-1]
    if not resource.endswith("*") or "*" in head or not head.endswith(("/", ":")):
        return False
    return any(not name.startswith("AWS::") for name in re.findall(r"\$\{([^}]+)\}", head))


def _container(task_definition: str) -> dict[str, Any]:
    (container,) = _props(task_definition)["ContainerDefinitions"]
    return container


def _environment(container: dict[str, Any]) -> dict[str, Any]:
    """Name to value; an optional variable (`!If [cond, {Name, Value}, NoValue]`) as it is when set."""
    environment = {}
    for entry in container.get("Environment", []):
        if "Fn::If" in entry:
            _, entry, absent = entry["Fn::If"]
            assert absent == {"Ref": "AWS::NoValue"}
        environment[entry["Name"]] = entry["Value"]
    return environment


def _secrets(container: dict[str, Any]) -> dict[str, Any]:
    return {secret["Name"]: secret["ValueFrom"] for secret in container.get("Secrets", [])}


def _placeholder(variable: str, value: Any) -> str:
    """The template's value where it is literal or a parameter's default, else one of the shape the settings accept."""
    if isinstance(value, str):
        return value
    default = _template()["Parameters"].get(value.get("Ref", ""), {}).get("Default")
    if default is not None:
        return str(default)
    if variable.endswith("_BASE_URL"):
        return "https://vendor.example"
    if variable == "BATON_ALERT_RECIPIENTS":
        return "data@acme.example"
    return "placeholder"


def test_template_passes_cfn_lint() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(TEMPLATE)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_role_is_least_privilege_and_function_settings_are_safe() -> None:
    template, problems = decode(str(TEMPLATE))
    assert not problems
    resources = template["Resources"]
    statements = resources["ChainRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    for statement in statements:
        targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert "*" not in targets, f"{statement['Sid']} grants every resource"
        assert all(not str(action).endswith("*") for action in [statement["Action"]] if isinstance(action, str))
    ssm = next(s for s in statements if s["Sid"] == "ChainCursorsAndHalts")
    assert all("/baton/${Deployment}/" in str(target) for target in ssm["Resource"])
    async_config = resources["ChainAsyncConfig"]["Properties"]
    assert async_config["MaximumRetryAttempts"] == 2, "links are idempotent: Lambda's retries are safe"
    queue = {"Fn::GetAtt": ["ChainFailureQueue", "Arn"]}
    assert async_config["DestinationConfig"]["OnFailure"]["Destination"] == queue
    sends = next(s for s in statements if s["Sid"] == "FailedLinksToTheQueue")
    assert (sends["Action"], sends["Resource"]) == ("sqs:SendMessage", queue), "the role sends only to its queue"
    assert resources["ChainFunction"]["Properties"]["RecursiveLoop"] == "Allow"
    assert resources["ChainFunction"]["Properties"]["Handler"] == "lambda_workers.handler.lambda_handler"


def test_no_statement_grants_a_wildcard() -> None:
    checked = 0
    for where, statement in _statements():
        checked += 1
        assert "NotAction" not in statement and "NotResource" not in statement, f"{where} grants all but what it names"
        actions = _as_list(statement["Action"])
        assert not [a for a in actions if "*" in a], f"{where}: an action with a wildcard"
        resources = [_text(r) for r in _as_list(statement["Resource"])]
        if "*" in resources:
            assert resources == ["*"], where
            assert set(actions) <= set(UNSCOPABLE_ACTIONS), f"{where}: {actions} on every resource"
            for action in actions:
                condition = UNSCOPABLE_ACTIONS[action]
                if condition is not None:
                    key, value = condition
                    assert statement["Condition"]["StringEquals"][key] == value, f"{where}: {action} needs {key}"
        else:
            assert all(_scoped(r) for r in resources), f"{where}: {resources}"
    assert checked > 30


def test_the_wildcard_check_refuses_what_it_should() -> None:
    account = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
    assert _scoped("${LakeBucket.Arn}/lake/*")
    assert _scoped(f"{account}:parameter/baton/${{Deployment}}/chains/*")
    assert not _scoped(f"{account}:parameter/*"), "every parameter of the account"
    assert not _scoped("arn:${AWS::Partition}:s3:::*")
    assert not _scoped("${LakeBucket.Arn}/*/lake")
    assert not _scoped(f"{account}:parameter/baton-*")


def test_one_role_per_service_and_no_managed_policy() -> None:
    roles = _resources("AWS::IAM::Role")
    assert set(roles) == {*SERVICE_ROLES, "SnowflakeLakeRole"}
    assert not [name for name, role in roles.items() if "ManagedPolicyArns" in role["Properties"]]
    assert not _resources("AWS::IAM::ManagedPolicy") and not _resources("AWS::IAM::Policy")
    assert _props("ChainFunction")["Role"] == _get_att("ChainRole", "Arn")
    assert set(_resources("AWS::ECS::TaskDefinition")) == set(TASKS)
    for task_definition, (_, role) in TASKS.items():
        assert _props(task_definition)["TaskRoleArn"] == _get_att(role, "Arn"), task_definition
        assert _props(task_definition)["ExecutionRoleArn"] == _get_att("TaskExecutionRole", "Arn"), task_definition


def test_each_role_trusts_one_principal() -> None:
    for name, role in _resources("AWS::IAM::Role").items():
        (statement,) = _as_list(role["Properties"]["AssumeRolePolicyDocument"]["Statement"])
        assert (statement["Effect"], statement["Action"]) == ("Allow", "sts:AssumeRole"), name
        if name in SERVICE_ROLES:
            assert statement["Principal"] == {"Service": SERVICE_ROLES[name]}, name
        else:  # Snowflake's storage integration: its IAM user, with the integration's external id
            assert statement["Principal"] == {"AWS": {"Ref": "SnowflakeIamUserArn"}}
            assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "SnowflakeExternalId"}}}


def test_only_the_daemon_passes_roles_and_only_the_run_roles_to_ecs_tasks() -> None:
    passing = [(where, s) for where, s in _statements() if "iam:PassRole" in _as_list(s["Action"])]
    assert [where.split("/")[0] for where, _ in passing] == ["DaemonRole"]
    ((_, statement),) = passing
    assert _as_list(statement["Action"]) == ["iam:PassRole"]
    assert sorted(map(_text, statement["Resource"])) == ["${RunRole.Arn}", "${TaskExecutionRole.Arn}"]
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}


def test_the_daemon_launches_runs_in_its_cluster_and_the_webserver_only_stops_them() -> None:
    run_task = _granting("DaemonRole", "ecs:RunTask")
    family = _props("RunTaskDefinition")["Family"]["Fn::Sub"]
    assert _text(run_task["Resource"]).endswith(f":task-definition/{family}:*")
    assert run_task["Condition"] == {"ArnEquals": {"ecs:cluster": _get_att("Cluster", "Arn")}}
    tagging = _granting("DaemonRole", "ecs:TagResource")
    assert tagging["Condition"] == {"StringEquals": {"ecs:CreateAction": "RunTask"}}
    for role in ("DaemonRole", "WebserverRole"):
        stopping = _granting(role, "ecs:StopTask")
        assert _text(stopping["Resource"]).endswith(":task/${Cluster}/*"), role
    # Runs are queued: the daemon launches them, the webserver terminates them from the UI.
    assert _role_actions("WebserverRole") == {"ecs:DescribeTaskDefinition", "ecs:DescribeTasks", "ecs:StopTask"}
    assert not _role_actions("RunRole") & {"ecs:RunTask", "iam:PassRole"}


def test_the_parameter_grants_cover_the_names_the_chain_code_uses() -> None:
    deployment, chain = "${Deployment}", ChainAddress("prices", "2025-06-02", "A-M")
    record, halt = parameter_name(deployment, chain), halt_parameter_name(deployment, chain)
    expected = {
        "ChainRole": {
            "ssm:GetParameters": [record, halt],
            "ssm:PutParameter": [record],
            "ssm:GetParameter": [vendor_secret_parameter(deployment, "markets")],
        },
        "DaemonRole": {
            "ssm:GetParameters": [record, halt],
            "ssm:PutParameter": [record],
            "ssm:GetParametersByPath": [chains_path(deployment)],
        },
        "RunRole": {
            "ssm:GetParameters": [record, halt],
            "ssm:PutParameter": [record, halt],
            "ssm:DeleteParameter": [halt],
            "ssm:GetParametersByPath": [chains_path(deployment)],
        },
    }
    for role, grants in expected.items():
        assert {a for a in _role_actions(role) if a.startswith("ssm:")} == set(grants), role
        for action, names in grants.items():
            patterns = [
                _text(r).split(":parameter", 1)[1]
                for s in _role_statements(role)
                if action in _as_list(s["Action"])
                for r in _as_list(s["Resource"])
            ]
            for name in names:
                assert any(fnmatchcase(name, pattern) for pattern in patterns), (role, action, name)
    assert not [
        r for r in ("TaskExecutionRole", "WebserverRole") if any(a.startswith("ssm:") for a in _role_actions(r))
    ]


def test_every_zone_a_dataset_uses_is_within_its_readers_grants() -> None:
    reads = _objects_granted("RunRole", "s3:GetObject")
    for dataset in DATASETS.values():
        for prefix in (dataset.raw_prefix("p"), dataset.lake_prefix("p"), dataset.quarantine_prefix("p")):
            assert any(fnmatchcase(f"{prefix}/key", pattern) for pattern in reads), prefix
    # A chain with no lease yet must read as 404, which S3 answers only to a caller that may list the bucket.
    lease = lease_key("${Deployment}", ChainAddress("prices", "2025-06-02"))
    for role in ("ChainRole", "DaemonRole", "RunRole"):
        for action in ("s3:GetObject", "s3:PutObject"):
            assert any(fnmatchcase(lease, pattern) for pattern in _objects_granted(role, action)), (role, action)
        listing = _granting(role, "s3:ListBucket")
        assert (listing["Resource"], "Condition" in listing) == (_get_att("LakeBucket", "Arn"), False), role


def test_every_container_has_the_settings_its_code_location_needs() -> None:
    platform = None
    for task_definition, (name, _) in TASKS.items():
        container = _container(task_definition)
        assert container["Name"] == name
        environment, secrets = _environment(container), _secrets(container)
        variables = set(environment) | set(secrets)
        assert environment["BATON_ENV"] == "aws"
        assert set(REQUIRED_VARIABLES) <= variables
        values = {**environment, **secrets}
        settings = load_settings({v: _placeholder(v, values[v]) for v in variables})  # raises naming what is missing
        assert settings.env == "aws"
        assert set(STORAGE_VARIABLES) <= variables, "a run writes its events to the instance's storage too"
        launcher = {v: environment[v] for v in LAUNCHER_VARIABLES if v in environment}
        if name == "run":
            assert not launcher, "a run launches no run"
        else:
            assert launcher == {
                "BATON_ECS_CLUSTER": {"Ref": "Cluster"},
                "BATON_RUN_TASK_DEFINITION": {"Ref": "RunTaskDefinition"},
                "BATON_RUN_SUBNETS": {"Fn::Join": [",", {"Ref": "PrivateSubnetIds"}]},
                "BATON_RUN_SECURITY_GROUPS": {"Ref": "TaskSecurityGroup"},
            }
        shared = {k: v for k, v in environment.items() if k not in LAUNCHER_VARIABLES}
        assert platform is None or shared == platform, f"{name}'s settings differ from the other containers'"
        platform = shared
    assert platform is not None
    assert platform["BATON_LAKE_BUCKET"] == {"Ref": "LakeBucket"}
    assert platform["BATON_CHAIN_FUNCTION"] == {"Ref": "ChainFunction"}
    assert platform["BATON_CHAIN_ROLE_ARN"] == _get_att("ChainRole", "Arn")
    assert platform["BATON_DEPLOYMENT"] == {"Ref": "Deployment"}
    assert platform["DAGSTER_PG_HOST"] == _get_att("Database", "Endpoint.Address")


def test_passwords_reach_the_containers_only_as_secrets() -> None:
    for task_definition in TASKS:
        container = _container(task_definition)
        assert _secrets(container) == SECRETS, task_definition
        assert not [v for v in _environment(container) if "PASSWORD" in v or "SECRET" in v], task_definition
    # ECS reads them to start the task; no task's own role can.
    readers = [where for where, s in _statements() if "secretsmanager:GetSecretValue" in _as_list(s["Action"])]
    assert [where.split("/")[0] for where in readers] == ["TaskExecutionRole"]
    reads = _granting("TaskExecutionRole", "secretsmanager:GetSecretValue")["Resource"]
    assert reads == [{"Ref": "DatabasePasswordSecret"}, {"Ref": "SnowflakePasswordSecret"}]
    database = _props("Database")
    # A password of the stack's own, resolved at deploy time: never a literal, never RDS's rotating one.
    assert "ManageMasterUserPassword" not in database
    assert database["MasterUserPassword"] == {
        "Fn::Sub": "{{resolve:secretsmanager:${DatabasePasswordSecret}:SecretString:password}}"
    }
    assert "GenerateSecretString" in _props("DatabasePasswordSecret")
    snowflake = _props("SnowflakePasswordSecret")
    assert "GenerateSecretString" in snowflake and "SecretString" not in snowflake


def test_alarms_watch_the_chain_and_notify_the_topic() -> None:
    alarms = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a["Properties"]
        for a in _resources("AWS::CloudWatch::Alarm").values()
    }
    for metric in ("Errors", "Throttles", "RecursiveInvocationsDropped"):
        alarm = alarms.pop(("AWS/Lambda", metric))
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "ChainFunction"}}]
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    undrained = alarms.pop(("AWS/SQS", "ApproximateAgeOfOldestMessage"))
    assert undrained["Dimensions"] == [{"Name": "QueueName", "Value": _get_att("ChainFailureQueue", "QueueName")}]
    assert (undrained["Threshold"], undrained["ComparisonOperator"]) == (600, "GreaterThanThreshold")
    stalled = alarms.pop(("Baton", "StalledChains"))
    assert stalled["Dimensions"] == [{"Name": "Deployment", "Value": {"Ref": "Deployment"}}]
    assert (stalled["Statistic"], stalled["Period"], stalled["EvaluationPeriods"]) == ("Maximum", 300, 3)
    assert (stalled["Threshold"], stalled["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert stalled["TreatMissingData"] == "breaching", "no data means the watchdog is not running"
    publishing = _granting("DaemonRole", "cloudwatch:PutMetricData")
    assert publishing["Condition"]["StringEquals"]["cloudwatch:namespace"] == "Baton"
    assert not alarms, f"an alarm this test does not know: {list(alarms)}"
    for alarm in _resources("AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    subscription = _props("AlarmEmailSubscription")
    assert (subscription["TopicArn"], subscription["Protocol"]) == ({"Ref": "AlarmTopic"}, "email")
    assert subscription["Endpoint"] == {"Ref": "AlarmEmail"}


def test_the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use() -> None:
    # alias/aws/sns would encrypt too, but its policy cannot let CloudWatch in: every alarm would be dropped.
    assert _props("AlarmTopic")["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    key = _props("AlarmTopicKey")
    assert key["EnableKeyRotation"] is True
    statements = {s["Sid"]: s for s in key["KeyPolicy"]["Statement"]}
    for statement in statements.values():
        assert not [a for a in _as_list(statement["Action"]) if "*" in a], statement["Sid"]
    cloudwatch = statements["AlarmsPublishToTheTopic"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert cloudwatch["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    administration = set(statements.pop("AccountManagesTheKey")["Action"])
    assert not administration & {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"}, "nobody else uses the key"
    assert list(statements) == ["AlarmsPublishToTheTopic"]


def test_services_run_privately_and_never_two_daemons() -> None:
    for service in ("WebserverService", "DaemonService"):
        props = _props(service)
        network = props["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert (props["LaunchType"], network["AssignPublicIp"]) == ("FARGATE", "DISABLED"), service
        assert network["Subnets"] == {"Ref": "PrivateSubnetIds"}, service
        assert network["SecurityGroups"] == [{"Ref": "TaskSecurityGroup"}], service
        assert props["DesiredCount"] == {"Fn::If": ["HasImage", 1, 0]}, f"{service}: one task once there is an image"
    daemon = _props("DaemonService")["DeploymentConfiguration"]
    assert (daemon["MaximumPercent"], daemon["MinimumHealthyPercent"]) == (100, 0)
    assert _props("UiLoadBalancer")["Scheme"] == "internal"
    listener, target = _props("UiListener"), _props("UiTargetGroup")
    assert (listener["Protocol"], listener["Port"]) == ("HTTP", 80)
    assert (target["Port"], target["HealthCheckPath"], target["TargetType"]) == (3000, "/server_info", "ip")
    assert _props("WebserverService")["LoadBalancers"][0]["ContainerPort"] == 3000
    (ui_ingress,) = _props("UiLoadBalancerSecurityGroup")["SecurityGroupIngress"]
    assert (ui_ingress["FromPort"], ui_ingress["CidrIp"]) == (80, {"Ref": "UiAllowedCidr"})


def test_dagster_storage_is_private_encrypted_postgres() -> None:
    database = _resources()["Database"]
    assert (database["DeletionPolicy"], database["UpdateReplacePolicy"]) == ("Snapshot", "Snapshot")
    props = database["Properties"]
    assert props["Engine"] == "postgres" and props["EngineVersion"].split(".")[0] == "16"
    assert props["StorageEncrypted"] is True and props["PubliclyAccessible"] is False
    assert props["DBInstanceClass"] == {"Ref": "DatabaseInstanceClass"}
    assert _template()["Parameters"]["DatabaseInstanceClass"]["Default"] == "db.t4g.micro"
    assert _props("DatabaseSubnetGroup")["SubnetIds"] == {"Ref": "PrivateSubnetIds"}
    assert props["VPCSecurityGroups"] == [{"Ref": "DatabaseSecurityGroup"}]
    assert "SecurityGroupIngress" not in _props("DatabaseSecurityGroup")
    ingress = [
        p
        for p in map(_props, _resources("AWS::EC2::SecurityGroupIngress"))
        if p["GroupId"] == {"Ref": "DatabaseSecurityGroup"}
    ]
    assert [(i["FromPort"], i["ToPort"], i["SourceSecurityGroupId"]) for i in ingress] == [
        (5432, 5432, {"Ref": "TaskSecurityGroup"})
    ]


def test_containers_run_dagster_and_log_with_retention() -> None:
    assert _container("WebserverTaskDefinition")["Command"] == [
        "dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w", "workspace.yaml"
    ]  # fmt: skip
    assert _container("DaemonTaskDefinition")["Command"] == ["dagster-daemon", "run", "-w", "workspace.yaml"]
    assert "Command" not in _container("RunTaskDefinition"), "EcsRunLauncher gives each run its command"
    for task_definition in TASKS:
        container = _container(task_definition)
        tag = {"Tag": {"Fn::If": ["HasImage", {"Ref": "ImageTag"}, "no-image-yet"]}}
        assert container["Image"] == {"Fn::Sub": ["${ImageRepository.RepositoryUri}:${Tag}", tag]}, "one image for all"
        assert container["LogConfiguration"]["Options"]["awslogs-group"] == {"Ref": "DagsterLogGroup"}
    for name, log_group in _resources("AWS::Logs::LogGroup").items():
        assert "RetentionInDays" in log_group["Properties"], name
    function = _props("ChainFunction")["FunctionName"]["Fn::Sub"]
    assert _props("ChainLogGroup")["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/{function}"}, "the function's own"
    assert _props("ImageRepository")["RepositoryName"] == {"Fn::Sub": "baton-${Deployment}"}


def _instructions(path: Path) -> list[tuple[str, str]]:
    """A Dockerfile's instructions, continuation lines joined and comments dropped."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in joined.splitlines() if line.strip()]


def test_the_image_is_the_production_install() -> None:
    instructions = _instructions(DOCKERFILE)
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = [args for kind, args in instructions if kind == "RUN"]
    installs = [args for args in runs if "pip install" in args]
    assert len(installs) == 1 and re.search(r"pip install --no-cache-dir \.(\s|$)", installs[0]), installs
    assert "[" not in installs[0].split("pip install", 1)[1].split("&&")[0], "no extras: not .[dev]"
    copies = [args.split() for kind, args in instructions if kind in ("COPY", "ADD")]
    sources = [s for args in copies for s in args[:-1] if not s.startswith("--")]
    assert "." not in sources and "./" not in sources, "only what the install and the code location need"
    assert not [args for _, args in instructions if "local_stack" in args], "the local stack is dev only"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert {f"{package}/" for package in packages} | {"pyproject.toml", pyproject["project"]["readme"]} <= set(sources)
    workspace = next(i for i, (kind, args) in enumerate(instructions) if kind == "COPY" and "workspace.yaml" in args)
    workdirs = [i for i, (kind, _) in enumerate(instructions) if kind == "WORKDIR"]
    assert workdirs[-1] < workspace and instructions[workspace][1].split()[-1] in (".", "./"), "-w workspace.yaml"
    assert any(kind == "ENV" and "DAGSTER_HOME=/opt/dagster/home" in args.split() for kind, args in instructions)
    assert ("EXPOSE", "3000") in instructions
    users = [(i, args) for i, (kind, args) in enumerate(instructions) if kind == "USER"]
    assert users and users[-1][1] not in ("root", "0"), "the containers run as a user of their own"
    assert users[-1][0] > max(i for i, (kind, _) in enumerate(instructions) if kind == "RUN")
    entrypoint = next(args for args in copies if "infra/entrypoint.sh" in args)
    assert ("ENTRYPOINT", f'["{Path(entrypoint[-1]).name}"]') in instructions
    ignored = set(DOCKERIGNORE.read_text().split())
    assert {".venv", ".baton", ".git", "tests", "bench", "local_stack", "**/__pycache__"} <= ignored


def test_the_entrypoint_writes_the_instance_then_runs_the_command(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "baton").write_text('#!/bin/sh\necho "baton $*" >> "$LOG"\nexit "${BATON_EXIT:-0}"\n')
    (bin_dir / "baton").chmod(0o755)
    log = tmp_path / "log"
    command = ["sh", "-c", 'echo "command $*" >> "$LOG"', "sh", "api", "execute_run", "{}"]
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "LOG": str(log)}
    result = subprocess.run(["sh", str(ENTRYPOINT), *command], env=env, capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == ["baton instance", "command api execute_run {}"]
    log.unlink()
    failed = subprocess.run(["sh", str(ENTRYPOINT), *command], env={**env, "BATON_EXIT": "3"}, timeout=10)
    assert failed.returncode == 3, "a container whose instance cannot be written stops before Dagster starts"
    assert log.read_text().splitlines() == ["baton instance"]
    assert 'exec "$@"' in ENTRYPOINT.read_text(), "the command replaces the shell and gets ECS's signals"
