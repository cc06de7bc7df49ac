"""The Dramatiq engine's py-amqp publisher connects to an ``amqps://`` broker as
verified as pika's default context: the broker's certificate checked against the CAs
and its host name, and ``ssl_options`` that py-amqp cannot apply refused by name."""

from __future__ import annotations

import ssl

import pytest

from lexigram_compat.adapters.dramatiq.rabbitmq_confirms import tls_options
from lexigram_compat.errors import ConfigurationError


def test_a_plain_url_publishes_without_tls() -> None:
    assert tls_options("amqp://guest:guest@127.0.0.1:5672/%2F", "127.0.0.1") is False


def test_an_amqps_url_verifies_the_certificate_and_the_host_name() -> None:
    assert tls_options("amqps://u:p@mq.example:5671/vhost", "mq.example") == {
        "server_hostname": "mq.example",
        "cert_reqs": ssl.CERT_REQUIRED,
    }


def test_ssl_options_of_the_url_reach_the_publisher() -> None:
    url = "amqps://u:p@mq.example:5671/vhost?ssl_options={'cafile': '/etc/ca.pem', 'certfile': '/c.pem'}"
    assert tls_options(url, "mq.example") == {
        "server_hostname": "mq.example",
        "cert_reqs": ssl.CERT_REQUIRED,
        "ca_certs": "/etc/ca.pem",
        "certfile": "/c.pem",
    }


def test_ssl_options_the_publisher_cannot_apply_are_refused_by_name() -> None:
    url = "amqps://u:secret@mq.example:5671/vhost?ssl_options={'ca_path': '/etc/ssl/certs'}"
    with pytest.raises(ConfigurationError) as caught:
        tls_options(url, "mq.example")
    assert "ca_path" in str(caught.value)
    assert "secret" not in str(caught.value)
