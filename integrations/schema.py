"""The API key in the OpenAPI document: a second bearer scheme next to the JWT."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "integrations.authentication.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An integration's API key (`sfk_…`), created by a restaurant ADMIN with scopes: "
            "orders:read, orders:write, messages:send, menu:manage.",
        }
