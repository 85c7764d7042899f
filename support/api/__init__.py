"""The REST API of support: viewsets and serializers; writes call the same services as the pages."""
