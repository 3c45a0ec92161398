# Written by hand: the access permissions leave ServiceAccess's Meta (sso_shared.access.service_access
# makes each declared service's with its access group), so declaring a service changes no model.
# ServiceAccess has no table: nothing changes in the database, and the permissions already made stay.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("sso_shared", "0008_audit_forget_username_function"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="serviceaccess",
            options={"managed": False, "default_permissions": ()},
        ),
    ]
