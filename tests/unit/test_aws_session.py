"""The one AWS session of the store: botocore's models, found without listing every service."""

from __future__ import annotations

import pytest
from botocore.exceptions import UnknownServiceError
from botocore.loaders import Loader

from crowdtask.store import aws as aws_session
from crowdtask.store.aws import ServiceLoader


@pytest.mark.parametrize(
    ("service", "type_name"),
    [
        ("dynamodb", "service-2"),
        ("dynamodb", "endpoint-rule-set-1"),
        ("sqs", "service-2"),
        ("s3", "service-2"),
        ("events", "endpoint-rule-set-1"),
        ("ssm", "paginators-1"),
    ],
)
def test_a_service_model_is_botocores_own(service, type_name):
    assert ServiceLoader().load_service_model(service, type_name) == Loader().load_service_model(
        service, type_name
    )


def test_a_known_service_is_found_without_listing_every_service(monkeypatch):
    loader = ServiceLoader()

    def listed(type_name):
        raise AssertionError(f"listed every service for {type_name}")

    monkeypatch.setattr(loader, "list_available_services", listed)
    assert loader.load_service_model("dynamodb", "service-2")["metadata"]["endpointPrefix"] == "dynamodb"
    assert loader.load_service_model("dynamodb", "service-2", api_version="2012-08-10")


@pytest.mark.parametrize(
    ("service", "type_name"), [("no-such-service", "service-2"), ("dynamodb", "no-such-type-1")]
)
def test_an_unknown_service_is_refused_as_botocore_refuses_it(service, type_name):
    with pytest.raises(UnknownServiceError) as by_botocore:
        Loader().load_service_model(service, type_name)
    with pytest.raises(UnknownServiceError) as refused:
        ServiceLoader().load_service_model(service, type_name)
    assert str(refused.value) == str(by_botocore.value)


def test_every_client_comes_from_the_one_session_and_its_loader(aws):
    session = aws_session.session()
    assert session is aws_session.session()
    assert isinstance(session._session.get_component("data_loader"), ServiceLoader)
    client = aws_session.client("dynamodb")
    assert client.meta.service_model.service_name == "dynamodb"
    assert client.meta.region_name == session.region_name


@pytest.mark.parametrize("name", ["endpoints", "partitions", "sdk-default-configuration", "_retry"])
def test_botocores_own_files_read_alike_as_plain_dicts(name):
    """Plain and .json.gz files (the models above) alike: the same data, in the same order."""
    ours, theirs = ServiceLoader().load_data(name), Loader().load_data(name)
    assert ours == theirs
    assert type(ours) is dict and type(theirs) is not dict  # botocore's own reads OrderedDicts
    assert list(ours) == list(theirs)


def test_a_gzipped_model_reads_as_plain_dicts_in_botocores_order():
    ours = ServiceLoader().load_service_model("dynamodb", "service-2")
    theirs = Loader().load_service_model("dynamodb", "service-2")
    assert type(ours["shapes"]) is dict
    assert list(ours["shapes"]) == list(theirs["shapes"])
    put = "PutItemInput"
    assert list(ours["shapes"][put]["members"]) == list(theirs["shapes"][put]["members"])


def test_a_missing_file_is_none_as_for_botocore(tmp_path):
    assert ServiceLoader().file_loader.load_file(str(tmp_path / "nothing")) is None
