"""The one AWS session of a container: every client of the store is made from it.

It is boto3's own session but for how botocore finds and reads a service's files:

- Making a client, botocore first checks the service's name against every service it knows,
  listing its data folder (some 450 services, a folder and a stat each) for the model and again for
  the endpoint rules: measured, ~15 ms of every cold start that makes a client. The loader here
  looks in the service's own folder; a name it does not find is refused as before.
- botocore reads each JSON file into OrderedDicts, which costs three times plain dicts: ~18 ms
  against ~7 ms for the files of one DynamoDB client, endpoints.json (1.2 MB) the most of it. Plain
  dicts keep their order too, and botocore builds its own ordered shapes from them.
"""

from __future__ import annotations

import gzip
import json
import os
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import DataNotFoundError, UnknownServiceError
from botocore.loaders import JSONFileLoader, Loader, instance_cache
from botocore.session import get_session


class PlainJSONFileLoader(JSONFileLoader):
    """botocore's file loader (`name.json`, else `name.json.gz`), reading plain dicts."""

    def load_file(self, file_path: str) -> Any:
        for path, opened in ((file_path + ".json", open), (file_path + ".json.gz", gzip.open)):
            if os.path.isfile(path):
                with opened(path, "rb") as file:
                    return json.loads(file.read().decode("utf-8"))
        return None


class ServiceLoader(Loader):
    """botocore's loader, finding a service's model (and endpoint rules) without listing every service."""

    FILE_LOADER_CLASS = PlainJSONFileLoader

    @instance_cache
    def load_service_model(self, service_name: str, type_name: str, api_version: str | None = None) -> Any:
        if api_version is None:
            try:
                api_version = self.determine_latest_version(service_name, type_name)
            except DataNotFoundError:
                known = self.list_available_services(type_name)  # only to refuse: botocore's error
                if service_name not in known:
                    raise UnknownServiceError(
                        service_name=service_name, known_service_names=", ".join(known)
                    ) from None
                raise
        model = self.load_data(os.path.join(service_name, api_version, type_name))
        self._extras_processor.process(model, self._find_extras(service_name, type_name, api_version))
        return model


@lru_cache(maxsize=1)
def session() -> boto3.Session:
    core = get_session()
    # the data paths as botocore's create_loader reads them (AWS_DATA_PATH)
    data_path = core.get_config_variable("data_path")
    extra = [os.path.expanduser(os.path.expandvars(p)) for p in (data_path or "").split(os.pathsep) if p]
    core.register_component("data_loader", ServiceLoader(extra_search_paths=extra))
    return boto3.Session(botocore_session=core)


def client(service: str, *, config: Config | None = None, endpoint_url: str | None = None) -> Any:
    """A new client of `service` (each store module keeps its own, one per container)."""
    return session().client(service, config=config, endpoint_url=endpoint_url)
