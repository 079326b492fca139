"""factory_boy factories for the domain."""

from __future__ import annotations

import factory
from allauth.account.models import EmailAddress

from connectivity.models import (
    Cluster,
    Comment,
    ConnectivityRequest,
    Membership,
    Organization,
    RequestKind,
    User,
)

PASSWORD = "correct-horse-battery-staple"


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Organisation {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def verified(obj: User, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            EmailAddress.objects.create(user=obj, email=obj.email, verified=True, primary=True)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Membership.Role.MEMBER


class ClusterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cluster

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"cluster-{n}")
    region = "westeurope"
    tier = Cluster.Tier.DEDICATED
    vnet_id = factory.Sequence(
        lambda n: "/subscriptions/22222222-2222-4222-8222-222222222222/resourceGroups/"
        f"rg-platform-clusters/providers/Microsoft.Network/virtualNetworks/vnet-cluster-{n}"
    )
    address_prefixes = factory.LazyFunction(lambda: ["10.100.0.0/16"])
    external_ips = factory.LazyFunction(lambda: ["20.54.101.17", "20.54.101.18"])


class PeeringRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConnectivityRequest

    cluster = factory.SubFactory(ClusterFactory)
    organization = factory.SelfAttribute("cluster.organization")
    kind = RequestKind.VNET_PEERING
    tenant_id = "44444444-4444-4444-8444-444444444444"
    subscription_id = "55555555-5555-4555-8555-555555555555"
    resource_group = "rg-contoso-network"
    vnet_name = factory.Sequence(lambda n: f"vnet-customer-{n}")


class PrivateDnsRequestFactory(PeeringRequestFactory):
    kind = RequestKind.PRIVATE_DNS
    tenant_id = ""
    subscription_id = ""
    resource_group = ""
    vnet_name = ""
    zone_name = factory.Sequence(lambda n: f"zone{n}.contoso.internal")
    records = factory.LazyFunction(lambda: [{"name": "db", "ip": "10.20.1.4"}])


class DnsForwardingRequestFactory(PeeringRequestFactory):
    kind = RequestKind.DNS_FORWARDING
    tenant_id = ""
    subscription_id = ""
    resource_group = ""
    vnet_name = ""
    domain_name = factory.Sequence(lambda n: f"corp{n}.contoso.com")
    dns_servers = factory.LazyFunction(lambda: ["10.20.0.4"])


class HubConnectionRequestFactory(PeeringRequestFactory):
    kind = RequestKind.HUB_CONNECTION
    vnet_name = ""
    hub_name = factory.Sequence(lambda n: f"hub-contoso-{n}")


class CommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Comment

    request = factory.SubFactory(PeeringRequestFactory)
    author = factory.SubFactory(UserFactory)
    body = "Hello"
