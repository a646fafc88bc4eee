import json

from django.contrib import admin, messages
from django.utils.html import format_html

from .models import MailDelivery, OutboxMessage
from .services import outbox_messages_send


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ("task_name", "created_at", "attempts", "last_attempt_at", "short_error")
    list_filter = ("task_name",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "task_name",
        "call",
        "context",
        "countdown",
        "created_at",
        "attempts",
        "last_attempt_at",
        "last_error",
    )
    exclude = ("args", "kwargs")
    actions = ("send_now",)
    search_fields = ("context__request_id",)

    @admin.display(description="error")
    def short_error(self, obj):
        return (obj.last_error[:80] + "...") if len(obj.last_error) > 80 else obj.last_error

    @admin.display(description="arguments")
    def call(self, obj):
        return format_html(
            "<pre>{}</pre>", json.dumps({"args": obj.args, "kwargs": obj.kwargs}, indent=2)
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_send_permission(self, request):
        return request.user.has_perm("outbox.change_outboxmessage")

    # Sent under the context it was queued with: the task logs the original request id.
    @admin.action(description="Send the selected tasks to the broker now", permissions=["send"])
    def send_now(self, request, queryset):
        counts = outbox_messages_send(message_ids=queryset.values_list("pk", flat=True))
        level = messages.WARNING if counts["failed"] else messages.SUCCESS
        self.message_user(
            request, f"{counts['sent']} sent, {counts['failed']} refused by the broker.", level
        )


@admin.register(MailDelivery)
class MailDeliveryAdmin(admin.ModelAdmin):
    """Emails sent once: a row with no `sent at` past its claim is one a worker never finished
    (the task is retried after the lease)."""

    list_display = ("key", "created_at", "sent_at", "claimed_until", "attempts")
    list_filter = (("sent_at", admin.EmptyFieldListFilter),)
    search_fields = ("key",)
    date_hierarchy = "created_at"
    readonly_fields = ("key", "created_at", "sent_at", "claimed_until", "attempts")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
