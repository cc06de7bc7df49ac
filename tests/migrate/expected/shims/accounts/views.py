from accounts.tasks import record_login, send_password_reset, sync_avatar, verify_email


def login(request, user):
    record_login.delay(user.id, request.META.get("REMOTE_ADDR"))  # LEFT


def password_reset(request, user, token):
    send_password_reset.apply_async(args=(user.id, token), timeout=10)  # LEFT


def signup(request, user, token):
    verify_email.apply_async(args=(user.id, token), task_id=f"verify-{user.id}")
    if user.avatar_url:
        sync_avatar.apply_async(kwargs={"user_id": user.id, "url": user.avatar_url}, eta=user.joined_at)
