from __future__ import annotations

import django.db.models.deletion
from django.db import migrations, models


def grants_seen(apps, schema_editor):
    """A peering that was ever approved had its grant seen by pre-flight."""
    Request = apps.get_model("connectivity", "ConnectivityRequest")
    for request in Request.objects.filter(kind="vnet_peering", approved_at__isnull=False):
        Request.objects.filter(pk=request.pk).update(grant_seen_at=request.approved_at)


class Migration(migrations.Migration):
    dependencies = [("connectivity", "0006_sso_tenants")]

    operations = [
        migrations.AddField(
            model_name="connectivityrequest",
            name="grant_seen_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name="ConnectionStatus",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("checked_at", models.DateTimeField(blank=True, null=True)),
                ("health", models.CharField(choices=[("ok", "Working"), ("needs_sync", "Needs sync"),
                                                     ("degraded", "Degraded"), ("gone", "Gone")],
                                            default="ok", max_length=20)),
                ("summary", models.CharField(blank=True, max_length=300,
                                             help_text="Azure's own words, e.g. 'Connected, FullyInSync'.")),
                ("reason", models.TextField(blank=True, help_text="Why it is not working, when it is not.")),
                ("parts", models.JSONField(blank=True, default=list,
                                           help_text="Per resource: label, name and the states Azure reports.")),
                ("address_prefixes", models.JSONField(
                    blank=True, default=list,
                    help_text="A peering's remote address space as the cluster side last saw it.")),
                ("request", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE,
                                                 related_name="connection_status",
                                                 to="connectivity.connectivityrequest")),
            ],
        ),
        migrations.RunPython(grants_seen, migrations.RunPython.noop),
    ]
