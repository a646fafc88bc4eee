import uuid

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("outbox", "0004_outbox_message_context"),
    ]

    operations = [
        # Added empty first: rows already waiting keep no id (a one-off default would give
        # them all the same one), new rows get their own.
        migrations.AddField(
            model_name="outboxmessage",
            name="task_id",
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name="outboxmessage",
            name="task_id",
            field=models.UUIDField(blank=True, default=uuid.uuid4, editable=False, null=True),
        ),
    ]
