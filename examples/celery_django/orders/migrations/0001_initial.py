from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Order",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("sku", models.CharField(max_length=32)),
                ("quantity", models.PositiveIntegerField(default=1)),
                ("status", models.CharField(default="placed", max_length=16)),
                ("charge_attempts", models.PositiveIntegerField(default=0)),
                ("reserve_attempts", models.PositiveIntegerField(default=0)),
                ("flaky_gateway", models.BooleanField(default=False)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
        ),
    ]
