"""`baton deploy --target aws`: the offline plan, its parameter checks, the image tag, the change set, the deployment.

The plan runs as a real `baton` process with no AWS credentials and every AWS endpoint on a
closed loopback port, so a single AWS call would fail it. The template is read back with
cfn-lint's own decoder, so the plan is compared with the template as CloudFormation reads it.
A deployment runs `deploy_stack` on moto in this process, from a copy of the checkout with a
small template of its own, and with a fake `docker` first on PATH that logs what it was asked.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from cfnlint.decode import decode, decode_str

from platform_defs.aws_stack import (
    COMPUTED,
    IMAGE_CONTEXT,
    ROOT,
    Artefacts,
    StackOptions,
    StackPlan,
    _stack_exists,
    _upload,
    apply_change_set,
    deploy_stack,
    describe_changes,
    evaluate_conditions,
    image_tag,
    load_template,
    render_plan,
    resolve_parameters,
)
from platform_defs.cli import main
from platform_defs.deploy import build_zip
from platform_defs.settings import ConfigurationError

TEMPLATE = ROOT / "infra" / "template.yaml"
PARAMETERS = {
    "LakeBucketName": "acme-baton-lake",
    "CodeBucket": "acme-baton-code",
    "VpcId": "vpc-0123456789abcdef0",
    "PrivateSubnetIds": ["subnet-0aaa1111", "subnet-0bbb2222"],  # a YAML list; a comma string works too
    "UiAllowedCidr": "10.20.0.0/16",
    "AlarmEmail": "data-oncall@acme.example",
    "VendorMarketsBaseUrl": "https://api.markets.example",
    "AlertSender": "baton@acme.example",
    "AlertRecipients": "data-oncall@acme.example,analytics@acme.example",
    "SnowflakeAccount": "acme-xy12345",
    "SnowflakeUser": "BATON_LOADER",
    "SnowflakeDatabase": "MARKETS",
}
SNOWFLAKE_TRUST = {
    "SnowflakeIamUserArn": "arn:aws:iam::123456789012:user/snowflake",
    "SnowflakeExternalId": "ACME_SFCRole=1_abc",
}


def template() -> dict[str, Any]:
    decoded, problems = decode(str(TEMPLATE))
    assert not problems and decoded is not None
    return decoded


def offline_env(home: Path) -> dict[str, str]:
    """No credentials anywhere boto3 looks, and every endpoint a closed port: any AWS call fails."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_CONFIG_FILE": str(home / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def baton_deploy(
    tmp_path: Path, *arguments: str, parameters: dict[str, Any] | None = None
) -> subprocess.CompletedProcess:
    file = tmp_path / "parameters.yaml"
    file.write_text(yaml.safe_dump(PARAMETERS if parameters is None else parameters))
    command = [sys.executable, "-m", "platform_defs.cli", "deploy", "--target", "aws", "--parameters", str(file)]
    return subprocess.run(
        [*command, *arguments], env=offline_env(tmp_path), capture_output=True, text=True, timeout=120
    )


def section(output: str, header: str) -> list[list[str]]:
    """The indented lines under `header`, split into words."""
    lines = output.splitlines()
    start = lines.index(header) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("  ")), len(lines))
    return [line.split() for line in lines[start:end]]


@pytest.mark.parametrize("trust", [False, True], ids=["no-snowflake-trust", "snowflake-trust"])
def test_the_plan_is_offline_and_names_every_resource_artefact_and_parameter(tmp_path: Path, trust: bool) -> None:
    result = baton_deploy(tmp_path, "--plan", parameters=PARAMETERS | (SNOWFLAKE_TRUST if trust else {}))
    assert result.returncode == 0, result.stderr
    out, lines = result.stdout, result.stdout.splitlines()

    # what the parameters given make of each condition, and so of each conditional resource
    conditions = {"HasImage": True, "HasUiUrl": False, "HasSnowflakeRole": True, "HasStorageIntegration": True}
    conditions["HasSnowflakeTrust"] = trust
    assert f"HasSnowflakeTrust {str(trust).lower()}" in out
    resources = template()["Resources"]
    planned = {words[1]: (words[0], words[2]) for words in section(out, "resources:")}
    assert set(planned) == set(resources), "the plan names every resource of the template, and only those"
    for logical_id, resource in resources.items():
        created = conditions[resource["Condition"]] if "Condition" in resource else True
        assert planned[logical_id] == ("create" if created else "skip", resource["Type"]), logical_id
    assert planned["SnowflakeLakeRole"][0] == ("create" if trust else "skip")
    skipped = sum(verdict == "skip" for verdict, _ in planned.values())
    assert f"{len(resources) - skipped} resources to create; {skipped} skipped by conditions" in lines
    assert lines[-1] == "plan only: nothing was changed and no AWS call was made"

    code = build_zip()
    sha256 = hashlib.sha256(code).hexdigest()
    assert f"worker zip: {len(code)} bytes, sha256 {sha256}" in lines
    assert f"s3://acme-baton-code/baton/lambda_workers-{sha256[:12]}.zip" in out
    uri = f"<account>.dkr.ecr.eu-west-1.amazonaws.com/baton-prod:{image_tag()}"
    assert f"  docker build --platform linux/amd64 -f infra/Dockerfile -t {uri} ." in lines
    assert f"  docker push {uri}" in lines
    assert "stack: baton-prod " in out
    shown = {words[0]: words[1] for words in section(out, "parameters:")}
    assert list(shown) == list(template()["Parameters"]), "every parameter is shown, in the template's order"
    assert shown["CodeKey"] == repr(f"baton/lambda_workers-{sha256[:12]}.zip")
    assert shown["ImageTag"] == repr(image_tag())
    assert shown["PrivateSubnetIds"] == "'subnet-0aaa1111,subnet-0bbb2222'"
    assert shown["Deployment"] == "'prod'" and shown["RunCpu"] == "'1024'"


def test_missing_required_parameters_are_all_named_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", "--target", "aws", "--plan", "--parameter", "LakeBucketName=acme-baton-lake"]) == 1
    captured = capsys.readouterr()
    assert not captured.out
    required = [name for name, spec in template()["Parameters"].items() if "Default" not in spec]
    missing = [name for name in required if name != "LakeBucketName" and name not in COMPUTED]
    assert f"these parameters have no default and are not set: {', '.join(missing)}" in captured.err
    assert "--parameters file" in captured.err and "--parameter Name=Value" in captured.err


def test_without_plan_the_same_environment_fails_at_the_first_aws_call(tmp_path: Path) -> None:
    """The plan's environment is one where AWS cannot be reached: a deployment fails there, with a message."""
    done = baton_deploy(tmp_path)
    assert done.returncode == 1
    assert "baton: deploying baton-prod: Unable to locate credentials" in done.stderr


def test_values_breaking_the_templates_rules_are_named_with_the_rule(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    file = tmp_path / "parameters.json"
    file.write_text(yaml.safe_dump(PARAMETERS))
    arguments = ["deploy", "--target", "aws", "--plan", "--no-image", "--parameters", str(file)]
    bad = ["--parameter", "AlarmEmail=oncall", "--parameter", "RunCpu=3000", "--parameter", "LinkTimeoutSeconds=5"]
    assert main([*arguments, *bad]) == 1
    error = capsys.readouterr().err
    assert "AlarmEmail='oncall' does not match its AllowedPattern ^[^@\\s]+@[^@\\s]+$" in error
    assert "RunCpu='3000' is not one of its AllowedValues (512, 1024, 2048, 4096, 8192)" in error
    assert "LinkTimeoutSeconds='5' is not between its MinValue 10 and MaxValue 900" in error
    assert main([*arguments, "--parameter", "Vpc=vpc-1"]) == 1
    assert "has no parameter Vpc;" in capsys.readouterr().err
    assert main([*arguments, "--parameter", "CodeKey=mine.zip"]) == 1
    assert "baton deploy computes CodeKey" in capsys.readouterr().err
    assert main([*arguments, "--deployment", "Prod"]) == 1
    assert "Deployment='Prod' does not match its AllowedPattern" in capsys.readouterr().err


def test_flags_of_the_other_target_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", "--plan"]) == 1
    assert "--plan: only with --target aws" in capsys.readouterr().err
    assert main(["deploy", "--target", "aws", "--memory", "1024"]) == 1
    assert "--memory: only with --target function" in capsys.readouterr().err


def test_no_echo_values_are_masked_and_kept_values_make_conditions_unknown() -> None:
    small = load_template(
        """
Parameters:
  Deployment: {Type: String, Default: prod}
  Password: {Type: String, NoEcho: true, AllowedPattern: "[a-z]+"}
  ImageTag: {Type: String, Default: ""}
Conditions:
  HasImage: !Not [!Equals [!Ref ImageTag, ""]]
  InIreland: !Equals [!Ref AWS::Region, eu-west-1]
  Either: !Or [!Condition HasImage, !Equals [x, x]]
Resources:
  Service: {Type: AWS::ECS::Service, Condition: HasImage}
  Queue: {Type: AWS::SQS::Queue}
"""
    )
    with pytest.raises(ConfigurationError, match=r"Password=\*\*\*\* does not match") as refused:
        resolve_parameters(small, {"Password": "S3CRET"})
    assert "S3CRET" not in str(refused.value)
    values = resolve_parameters(small, {"Password": "secret", "ImageTag": None})  # None: keep the stack's
    assert evaluate_conditions(small, values) == {"HasImage": None, "InIreland": None, "Either": True}
    assert evaluate_conditions(small, {**values, "ImageTag": "abc"})["HasImage"] is True

    artefacts = Artefacts(b"zip", "0" * 64, "", image_tag=None)
    plan = StackPlan(small, artefacts, values, frozenset(), evaluate_conditions(small, values))
    rendered = render_plan(plan, "eu-west-1", "123456789012")
    assert "  Password                     ****" in rendered and "secret" not in rendered
    assert "  ImageTag                     (kept)" in rendered
    assert "  unknown Service" in rendered
    assert "1 resources to create; 0 skipped by conditions; 1 depend on values known only to AWS" in rendered


def test_the_loader_reads_every_short_tag_as_its_long_form() -> None:
    text = """
Resources:
  R:
    Type: T
    Properties:
      Ref: !Ref Name
      Sub: !Sub "${A}-x"
      SubList: !Sub ["${a}", {a: !Ref B}]
      GetAtt: !GetAtt Database.Endpoint.Address
      GetAttList: !GetAtt [Database, Arn]
      If: !If [Cond, !Ref AWS::NoValue, 1]
      Condition: !And [!Not [!Equals [!Ref A, ""]], !Or [!Condition C, !Condition D]]
      Select: !Select [0, !Split [",", !Join [",", [a, b]]]]
      Map: !FindInMap [M, !Ref AWS::Region, Key]
      Import: !ImportValue other-stack-Output
      Base64: !Base64 text
      Cidr: !Cidr [!GetAtt Vpc.CidrBlock, 6, 8]
      Zones: !GetAZs ""
"""
    properties = load_template(text)["Resources"]["R"]["Properties"]
    assert properties["Ref"] == {"Ref": "Name"}
    assert properties["Sub"] == {"Fn::Sub": "${A}-x"}
    assert properties["SubList"] == {"Fn::Sub": ["${a}", {"a": {"Ref": "B"}}]}
    assert properties["GetAtt"] == {"Fn::GetAtt": ["Database", "Endpoint.Address"]}
    assert properties["GetAttList"] == {"Fn::GetAtt": ["Database", "Arn"]}
    assert properties["If"] == {"Fn::If": ["Cond", {"Ref": "AWS::NoValue"}, 1]}
    assert properties["Condition"] == {
        "Fn::And": [
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "A"}, ""]}]},
            {"Fn::Or": [{"Condition": "C"}, {"Condition": "D"}]},
        ]
    }
    assert properties["Select"] == {"Fn::Select": [0, {"Fn::Split": [",", {"Fn::Join": [",", ["a", "b"]]}]}]}
    assert properties["Map"] == {"Fn::FindInMap": ["M", {"Ref": "AWS::Region"}, "Key"]}
    assert properties["Import"] == {"Fn::ImportValue": "other-stack-Output"}
    assert properties["Base64"] == {"Fn::Base64": "text"}
    assert properties["Cidr"] == {"Fn::Cidr": [{"Fn::GetAtt": ["Vpc", "CidrBlock"]}, 6, 8]}
    assert properties["Zones"] == {"Fn::GetAZs": ""}
    assert properties == decode_str(text)[0]["Resources"]["R"]["Properties"], "as cfn-lint reads it"
    assert load_template(TEMPLATE.read_text()) == template(), "the whole template, as cfn-lint reads it"


def copy_context(root: Path) -> None:
    for entry in IMAGE_CONTEXT:
        source, target = ROOT / entry, root / entry
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", ".*"))
        else:
            shutil.copy(source, target)


def test_the_image_tag_hashes_the_build_context_and_only_it(tmp_path: Path) -> None:
    copy_context(tmp_path)
    tag = image_tag(tmp_path)
    assert tag == image_tag() and len(tag) == 12, "the copy is the same context"
    os.utime(tmp_path / "platform_defs" / "cli.py", (0, 0))
    for stray in ("platform_defs/__pycache__/cli.cpython-311.pyc", "lambda_workers/.handler.py.swp", "tests/x.py"):
        (tmp_path / stray).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / stray).write_text("not in the image")
    assert image_tag(tmp_path) == tag, "mtimes, caches, hidden files and files outside the context do not count"
    handler = tmp_path / "lambda_workers" / "handler.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    changed = image_tag(tmp_path)
    assert changed != tag
    (tmp_path / "infra" / "entrypoint.sh").write_text('#!/bin/sh\nexec "$@"\n')
    assert image_tag(tmp_path) not in (tag, changed)


@pytest.fixture
def cloudformation(aws_in_process: None) -> Any:
    """CloudFormation on moto in this process."""
    return boto3.client("cloudformation")


QUEUE_TEMPLATE = """
Parameters:
  Name: {Type: String}
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties: {QueueName: !Ref Name}
"""


def test_the_change_set_is_printed_before_it_runs_and_no_change_is_nothing_to_do(
    cloudformation: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    parameters = [{"ParameterKey": "Name", "ParameterValue": "baton-test"}]
    assert apply_change_set(cloudformation, "baton-test", True, parameters, TemplateBody=QUEUE_TEMPLATE)
    out = capsys.readouterr().out
    assert "(CREATE baton-test):\n  Add     Queue                             AWS::SQS::Queue\nexecuting" in out
    assert cloudformation.describe_stacks(StackName="baton-test")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert not apply_change_set(cloudformation, "baton-test", False, parameters, TemplateBody=QUEUE_TEMPLATE)
    assert capsys.readouterr().out == "baton-test: nothing to change\n"


def test_a_change_set_without_changes_is_deleted(capsys: pytest.CaptureFixture[str]) -> None:
    """How AWS itself answers an update that changes nothing: a FAILED change set, which is deleted."""
    cfn = boto3.client("cloudformation", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    failed = {
        "Status": "FAILED",
        "StatusReason": "The submitted information didn't contain changes. Submit different information to create a "
        "change set.",
        "ExecutionStatus": "UNAVAILABLE",
    }
    with Stubber(cfn) as stub:
        stub.add_response("create_change_set", {"Id": "arn:aws:cloudformation:eu-west-1:1:changeSet/x/1"})
        stub.add_response("describe_change_set", failed)  # the waiter's poll
        stub.add_response("describe_change_set", failed)
        stub.add_response("delete_change_set", {})
        assert not apply_change_set(cfn, "baton-prod", False, [], TemplateURL="https://b.s3.amazonaws.com/t.yaml")
        stub.assert_no_pending_responses()
    assert capsys.readouterr().out == "baton-prod: nothing to change\n"


def test_changes_are_listed_with_their_replacement() -> None:
    change_set = {
        "Changes": [
            {
                "Type": "Resource",
                "ResourceChange": {
                    "Action": "Add",
                    "LogicalResourceId": "Cluster",
                    "ResourceType": "AWS::ECS::Cluster",
                },
            },
            {
                "Type": "Resource",
                "ResourceChange": {
                    "Action": "Modify",
                    "LogicalResourceId": "RunTaskDefinition",
                    "ResourceType": "AWS::ECS::TaskDefinition",
                    "Replacement": "True",
                },
            },
            {
                "Type": "Resource",
                "ResourceChange": {"Action": "Remove", "LogicalResourceId": "Old", "ResourceType": "AWS::SQS::Queue"},
            },
        ]
    }
    assert describe_changes(change_set) == [
        "  Add     Cluster                           AWS::ECS::Cluster",
        "  Modify  RunTaskDefinition                 AWS::ECS::TaskDefinition  replacement: True",
        "  Remove  Old                               AWS::SQS::Queue",
    ]


# The parameters the deployment computes or is given, the image repository the first deployment
# creates, and one cheap resource that takes ImageTag and CodeKey, so that an update is a change.
# !Join of !Ref rather than !Sub: moto finds the resources a parameter change modifies by Ref only.
DEPLOY_TEMPLATE = """\
Parameters:
  Deployment: {Type: String}
  CodeBucket: {Type: String}
  CodeKey: {Type: String}
  ImageTag: {Type: String, Default: ""}
Resources:
  ImageRepository:
    Type: AWS::ECR::Repository
    Properties:
      RepositoryName: !Sub baton-${Deployment}
  Release:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub /baton/${Deployment}/release
      Type: String
      Value: !Join ["", [!Ref CodeKey, " image:", !Ref ImageTag]]
"""
BUCKET = "acme-baton-code"
FAKE_DOCKER = """\
#!/bin/sh
echo "$PWD: docker $*" >> "{log}"
if [ "$1" = login ]; then read -r password; echo "stdin: $password" >> "{log}"; fi
if [ "$1" = "$FAKE_DOCKER_FAILS" ]; then exit 1; fi
exit 0
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the build context with the small template as infra/template.yaml."""
    root = tmp_path / "checkout"
    copy_context(root)
    (root / "infra" / "template.yaml").write_text(DEPLOY_TEMPLATE)
    return root


@pytest.fixture
def docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake `docker` first on PATH: each call appends its directory and arguments (and login's stdin) to the log."""
    bin_dir, log = tmp_path / "bin", tmp_path / "docker.log"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER.format(log=log))
    (bin_dir / "docker").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("FAKE_DOCKER_FAILS", raising=False)
    log.touch()
    return log


@pytest.fixture
def aws(aws_in_process: None) -> None:
    """moto in this process, with the code bucket the deployment uploads to."""
    boto3.client("s3").create_bucket(Bucket=BUCKET)


def deploy(root: Path, image: bool = True) -> int:
    return deploy_stack(StackOptions(deployment="test", code_bucket=BUCKET, image=image, root=root))


def docker_calls(log: Path) -> list[str]:
    calls = log.read_text().splitlines()
    log.write_text("")
    return calls


def stack_parameters() -> dict[str, str]:
    stack = boto3.client("cloudformation").describe_stacks(StackName="baton-test")["Stacks"][0]
    return {parameter["ParameterKey"]: parameter["ParameterValue"] for parameter in stack["Parameters"]}


def release() -> str:
    """What the stack's SSM parameter holds: the CodeKey and ImageTag the stack's resources were last given."""
    return boto3.client("ssm").get_parameter(Name="/baton/test/release")["Parameter"]["Value"]


def code_key(root: Path) -> str:
    return f"baton/lambda_workers-{hashlib.sha256(build_zip(root / 'lambda_workers')).hexdigest()[:12]}.zip"


def image_uri(root: Path) -> str:
    return f"123456789012.dkr.ecr.us-east-1.amazonaws.com/baton-test:{image_tag(root)}"  # moto's account


def pushed(root: Path, uri: str) -> list[str]:
    """The docker calls that build and push `uri`: from the checkout, the password on stdin, never in argv."""
    return [
        f"{root}: docker build --platform linux/amd64 -f infra/Dockerfile -t {uri} .",
        f"{root}: docker login --username AWS --password-stdin https://123456789012.dkr.ecr.us-east-1.amazonaws.com",
        "stdin: 123456789012-auth-token",
        f"{root}: docker push {uri}",
    ]


def test_the_first_deployment_creates_the_stack_then_pushes_the_image_then_sets_its_tag(
    aws: None, checkout: Path, docker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert deploy(checkout) == 0
    out = capsys.readouterr().out
    key, tag, uri = code_key(checkout), image_tag(checkout), image_uri(checkout)

    # the repository is the stack's: created with ImageTag empty, before the image can be pushed to it
    # (_push_image's describe_images would fail on a repository that did not exist yet)
    create, update = out.index("(CREATE baton-test):"), out.index("(UPDATE baton-test):")
    assert out.index("first deployment: baton-test with ImageTag empty creates the image repository") < create
    assert (
        "(CREATE baton-test):\n"
        "  Add     ImageRepository                   AWS::ECR::Repository\n"
        "  Add     Release                           AWS::SSM::Parameter\n"
        "executing"
    ) in out
    assert create < update and out.rstrip().endswith("baton-test is UPDATE_COMPLETE:")
    assert docker_calls(docker) == pushed(checkout, uri)
    assert stack_parameters() == {"Deployment": "test", "CodeBucket": BUCKET, "CodeKey": key, "ImageTag": tag}
    assert release() == f"{key} image:{tag}", "the update gave the stack's resources the tag"

    s3 = boto3.client("s3")
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == build_zip(checkout / "lambda_workers")
    assert f"uploaded s3://{BUCKET}/{key} " in out
    template_keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="baton/template-")["Contents"]]
    assert [s3.get_object(Bucket=BUCKET, Key=k)["Body"].read().decode() for k in template_keys] == [DEPLOY_TEMPLATE]


def put_image(tag: str) -> None:
    """Stands for the push the fake docker did not do: the tag is in moto's ECR, as after a real push."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": "sha256:0"},
        "layers": [],
    }
    boto3.client("ecr").put_image(repositoryName="baton-test", imageManifest=json.dumps(manifest), imageTag=tag)


def test_a_second_deployment_of_the_same_code_uploads_nothing_and_calls_no_docker(
    aws: None, checkout: Path, docker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert deploy(checkout) == 0
    assert len(docker_calls(docker)) == 4
    put_image(image_tag(checkout))  # the fake docker pushed nothing to moto's ECR: this stands for its push
    capsys.readouterr()

    assert deploy(checkout) == 0
    out = capsys.readouterr().out
    assert docker_calls(docker) == [], "the tag is in ECR: nothing is built, nobody logs in, nothing is pushed"
    assert f"image {image_uri(checkout)} is in ECR already" in out
    assert "uploaded" not in out, "the zip and the template are there already, under the same keys"
    assert "first deployment:" not in out and "CREATE" not in out
    assert stack_parameters()["ImageTag"] == image_tag(checkout)


def test_no_image_on_an_update_keeps_the_stacks_image_tag(
    aws: None, checkout: Path, docker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert deploy(checkout) == 0
    tag = image_tag(checkout)
    docker_calls(docker)
    handler = checkout / "lambda_workers" / "handler.py"
    handler.write_text(handler.read_text() + "\n# changed\n")  # a new zip, so a new CodeKey: a real update
    capsys.readouterr()

    assert deploy(checkout, image=False) == 0
    out = capsys.readouterr().out
    assert docker_calls(docker) == []
    assert "(UPDATE baton-test):" in out and "first deployment:" not in out
    key = code_key(checkout)
    assert stack_parameters() == {"Deployment": "test", "CodeBucket": BUCKET, "CodeKey": key, "ImageTag": tag}
    assert release() == f"{key} image:{tag}", "UsePreviousValue: the resources keep the tag, with the new code"


def test_no_image_on_the_first_deployment_creates_the_stack_once_with_the_default_tag(
    aws: None, checkout: Path, docker: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert deploy(checkout, image=False) == 0
    out = capsys.readouterr().out
    assert docker_calls(docker) == []
    assert out.count("change set ") == 1 and "(CREATE baton-test):" in out and "first deployment:" not in out
    assert stack_parameters()["ImageTag"] == "", "ImageTag is not sent: its Default"
    assert release() == f"{code_key(checkout)} image:"


def test_a_first_deployment_whose_push_failed_is_finished_by_the_next(
    aws: None, checkout: Path, docker: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The stack and its repository stay, with ImageTag empty; the next run pushes and updates, creating nothing."""
    monkeypatch.setenv("FAKE_DOCKER_FAILS", "push")
    with pytest.raises(ConfigurationError, match=r"docker push failed \(exit 1\)"):
        deploy(checkout)
    assert stack_parameters()["ImageTag"] == ""
    docker_calls(docker)
    capsys.readouterr()

    monkeypatch.delenv("FAKE_DOCKER_FAILS")
    assert deploy(checkout) == 0
    out = capsys.readouterr().out
    assert docker_calls(docker) == pushed(checkout, image_uri(checkout))
    assert out.count("change set ") == 1 and "(UPDATE baton-test):" in out and "first deployment:" not in out
    assert stack_parameters()["ImageTag"] == image_tag(checkout)


def test_without_docker_the_message_says_to_deploy_with_no_image(
    aws: None, checkout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))  # no docker, wherever the machine has one
    with pytest.raises(ConfigurationError, match="docker is not installed: install it, or deploy with --no-image"):
        deploy(checkout)


def test_an_object_already_under_its_key_is_not_uploaded_again(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    s3 = boto3.client("s3")
    _upload(s3, BUCKET, "baton/x.zip", b"zip")
    assert capsys.readouterr().out == f"uploaded s3://{BUCKET}/baton/x.zip (3 bytes)\n"
    etag = s3.head_object(Bucket=BUCKET, Key="baton/x.zip")["ETag"]
    _upload(s3, BUCKET, "baton/x.zip", b"zip")
    assert capsys.readouterr().out == ""
    assert s3.head_object(Bucket=BUCKET, Key="baton/x.zip")["ETag"] == etag
    _upload(s3, BUCKET, "baton/x.zip", b"zip, whole")  # a different size: an upload cut short, replaced
    assert s3.get_object(Bucket=BUCKET, Key="baton/x.zip")["Body"].read() == b"zip, whole"


@pytest.mark.parametrize(
    ("status", "exists"),
    [
        ("CREATE_COMPLETE", True),
        ("UPDATE_ROLLBACK_COMPLETE", True),
        ("REVIEW_IN_PROGRESS", False),  # only ever given a CREATE change set: the next CREATE creates it
        ("ROLLBACK_COMPLETE", "aws cloudformation delete-stack --stack-name baton-prod (the lake bucket is retained)"),
        ("UPDATE_IN_PROGRESS", "baton-prod is UPDATE_IN_PROGRESS: deploy again once it is done"),
    ],
)
def test_whether_the_stack_is_updated_created_or_refused(status: str, exists: bool | str) -> None:
    """Stubbed: moto's change sets never fail (no ROLLBACK_COMPLETE), and a second CREATE change set of a stack
    in REVIEW_IN_PROGRESS makes moto a second stack of the same name, where AWS reuses the one."""
    cfn = boto3.client("cloudformation", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stack = {"StackName": "baton-prod", "CreationTime": "2025-01-01T00:00:00Z", "StackStatus": status}
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "baton-prod"})
        if isinstance(exists, str):
            with pytest.raises(ConfigurationError, match=re.escape(exists)):
                _stack_exists(cfn, "baton-prod")
        else:
            assert _stack_exists(cfn, "baton-prod") is exists
        stub.assert_no_pending_responses()


def test_a_stack_that_does_not_exist_is_created_and_other_errors_are_raised() -> None:
    cfn = boto3.client("cloudformation", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(cfn) as stub:
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id baton-prod does not exist")
        stub.add_client_error("describe_stacks", "AccessDenied", "not authorized to perform DescribeStacks", 403)
        assert _stack_exists(cfn, "baton-prod") is False
        with pytest.raises(ClientError, match="AccessDenied"):
            _stack_exists(cfn, "baton-prod")
