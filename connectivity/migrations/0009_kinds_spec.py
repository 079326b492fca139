"""Each kind's fields move from columns side by side into one JSON ``spec`` validated by the
kind (see connectivity/kinds/__init__.py for why). Every row keeps its values: a request's own
kind's fields are copied into its spec, then the columns go. Reversible."""

from django.db import migrations, models

# Frozen here (not imported from the kinds): the fields each kind had as columns.
KIND_COLUMNS = {
    "vnet_peering": ("tenant_id", "subscription_id", "resource_group", "vnet_name",
                     "allow_forwarded_traffic", "use_remote_gateways"),
    "private_dns": ("zone_name", "records"),
    "dns_forwarding": ("domain_name", "dns_servers"),
}
COLUMNS = [name for names in KIND_COLUMNS.values() for name in names]


def columns_to_spec(apps, schema_editor):
    Request = apps.get_model("connectivity", "ConnectivityRequest")
    for request in Request.objects.all().only("pk", "kind", *COLUMNS).iterator():
        names = KIND_COLUMNS.get(request.kind, ())
        Request.objects.filter(pk=request.pk).update(
            spec={name: getattr(request, name) for name in names})


def spec_to_columns(apps, schema_editor):
    Request = apps.get_model("connectivity", "ConnectivityRequest")
    for request in Request.objects.all().only("pk", "kind", "spec").iterator():
        values = {name: (request.spec or {})[name] for name in KIND_COLUMNS.get(request.kind, ())
                  if name in (request.spec or {})}
        if values:
            Request.objects.filter(pk=request.pk).update(**values)


class Migration(migrations.Migration):

    dependencies = [
        ("connectivity", "0008_cluster_workload_identity"),
    ]

    operations = [
        migrations.AddField(
            model_name="connectivityrequest",
            name="spec",
            field=models.JSONField(blank=True, default=dict,
                                   help_text="The kind's fields, validated by the kind."),
        ),
        migrations.RunPython(columns_to_spec, spec_to_columns),
        *[migrations.RemoveField(model_name="connectivityrequest", name=name) for name in COLUMNS],
    ]
