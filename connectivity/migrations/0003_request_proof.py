"""Each request gets its own proof of control; existing rows get one each."""

from __future__ import annotations

from django.db import migrations, models

import connectivity.models


def give_each_request_a_proof(apps, schema_editor):  # type: ignore[no-untyped-def]
    ConnectivityRequest = apps.get_model("connectivity", "ConnectivityRequest")
    for request in ConnectivityRequest.objects.only("pk").iterator():
        ConnectivityRequest.objects.filter(pk=request.pk).update(
            proof=connectivity.models.new_control_proof())


class Migration(migrations.Migration):
    dependencies = [("connectivity", "0002_staff_groups")]
    operations = [
        migrations.AddField(
            model_name="connectivityrequest",
            name="proof",
            field=models.CharField(
                default=connectivity.models.new_control_proof, editable=False, max_length=40,
                help_text="Proof of control: the customer's role assignment description must "
                          "carry it."),
        ),
        # AddField gives every existing row the same default value: replace it with one each.
        migrations.RunPython(give_each_request_a_proof, migrations.RunPython.noop),
    ]
