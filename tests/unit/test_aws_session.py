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
