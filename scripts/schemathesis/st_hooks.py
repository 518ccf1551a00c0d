"""Schemathesis hooks for the GraphQL endpoint: how to make a `Decimal`, and the two
properties every answer must have, whatever was sent: no 5xx status and no
INTERNAL_SERVER_ERROR code. (GraphQL errors as such are expected: most generated
requests are refused with a typed code, which is the point.)"""

import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes

# Decimals travel as strings: well-formed ones, hostile ones, and everything between.
schemathesis.graphql.scalar(
    "Decimal",
    st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False).map(str),
        st.sampled_from(["1e400", "-0", "NaN", "9" * 80, "0.0000000000000000000000001", ""]),
        st.text(max_size=30),
    ).map(nodes.String),
)


@schemathesis.check
def no_server_error_status(ctx, response, case):
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}")


@schemathesis.check
def no_internal_error_code(ctx, response, case):
    if "INTERNAL_SERVER_ERROR" in response.text:
        raise AssertionError("an answer carries INTERNAL_SERVER_ERROR")
