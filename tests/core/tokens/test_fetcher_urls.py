"""A token URL httpx cannot use is a configuration error on ``token_url``, not retried."""

from __future__ import annotations

import pytest

from vendorgate import ConfigurationError
from vendorgate.dialects import get_dialect
from vendorgate.tokens import TokenConfig, TokenFetcher


def _fetcher(url: str) -> TokenFetcher:
    return TokenFetcher(
        TokenConfig(
            dialect=get_dialect("lonewolf"),
            client_id="x",
            token_url=url,
            client_secret="literal:s3cr3t-value",
        )
    )


@pytest.mark.parametrize("url", ["http://", "https://"])
def test_url_without_host_is_a_token_url_error(url: str) -> None:
    """A token URL without a host fails with ConfigurationError naming token_url."""
    with pytest.raises(ConfigurationError, match=r"^token_url: ") as info:
        _fetcher(url).fetch()
    assert info.value.field == "token_url"
    assert "s3cr3t-value" not in str(info.value)


@pytest.mark.anyio
async def test_async_url_without_host_is_a_token_url_error() -> None:
    """Async: a token URL without a host fails with ConfigurationError naming token_url."""
    with pytest.raises(ConfigurationError, match=r"^token_url: "):
        await _fetcher("http://").afetch()


def test_invalid_url_is_a_token_url_error() -> None:
    """A token URL httpx rejects as invalid fails with ConfigurationError naming token_url."""
    with pytest.raises(ConfigurationError, match=r"^token_url: "):
        _fetcher("http://a:b:c/token").fetch()
