from django.urls import path

from . import email_change_views, views

app_name = "accounts"

urlpatterns = [
    path("account/", views.account_view, name="account"),
    path("account/login/", views.login_view, name="login"),
    path("account/logout/", views.logout_view, name="logout"),
    path("account/register/", views.register_view, name="register"),
    path("account/verify/resend/", views.verify_resend_view, name="verify_resend"),
    path("account/verify/<str:token>/", views.verify_view, name="verify"),
    path("account/sessions/end-all/", views.sessions_end_all_view, name="sessions_end_all"),
    path("account/sessions/<uuid:session_id>/end/", views.session_end_view, name="session_end"),
    path("account/password/change/", views.password_change_view, name="password_change"),
    path("account/password/reset/", views.password_reset_view, name="password_reset"),
    path(
        "account/reset/<str:uidb64>/<str:token>/",
        views.password_reset_confirm_view,
        name="password_reset_confirm",
    ),
    *email_change_views.urlpatterns,  # email change: accounts/email_change*.py
]
