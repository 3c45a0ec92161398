# Written by hand: one group per service granting its access permission, and every
# user that existed before per-service access keeps using both services.

from django.db import migrations

# Frozen copies of sso_shared.environment.services at the time of writing.
SERVICES = {"a": "System A · Intake", "b": "System B · Review"}


def create_access_groups(apps, schema_editor):
    db = schema_editor.connection.alias
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    User = apps.get_model("sso_shared", "User")
    content_type, _ = ContentType.objects.using(db).get_or_create(app_label="sso_shared", model="serviceaccess")
    existing_users = list(User.objects.using(db).values_list("pk", flat=True))
    for name, title in SERVICES.items():
        permission, _ = Permission.objects.using(db).get_or_create(
            content_type=content_type, codename=f"access_service_{name}", defaults={"name": f"Can use {title}"}
        )
        group, _ = Group.objects.using(db).get_or_create(name=f"Access to {title}")
        group.permissions.add(permission)
        User.groups.through.objects.using(db).bulk_create(
            [User.groups.through(user_id=pk, group_id=group.pk) for pk in existing_users], ignore_conflicts=True
        )


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("sso_shared", "0002_service_access"),
    ]

    operations = [migrations.RunPython(create_access_groups, migrations.RunPython.noop)]
