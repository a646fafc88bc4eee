from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("outbox", "0003_mail_delivery"),
    ]

    operations = [
        migrations.AddField(
            model_name="outboxmessage",
            name="context",
            field=models.JSONField(blank=True, db_default={}, default=dict),
        ),
    ]
