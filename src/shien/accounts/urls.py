"""Login (password + two-factor code, OpenID Connect) and the security settings (included at accounts/).

Included before django.contrib.auth.urls, so `login` here replaces Django's view.
"""

from django.urls import URLPattern, URLResolver, path

from shien.accounts import auth_views as views
from shien.accounts import password, password_reset
from shien.accounts.views import signup_confirm

urlpatterns: list[URLPattern | URLResolver] = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("signup/confirm/<str:token>/", signup_confirm, name="signup-confirm"),
    path("login/verify/", views.login_verify, name="login-verify"),
    path("oidc/start/", views.oidc_start, name="oidc-start"),
    path("oidc/callback/", views.oidc_callback, name="oidc-callback"),
    path("security/", views.security, name="security"),
    path("password_change/", password.PasswordChangeView.as_view(), name="password_change"),
    path("password_change/done/", password.PasswordChangeDoneView.as_view(), name="password_change_done"),
    # Django's views, limited per address and per client (mail_throttle), the mail through the task queue
    path("password_reset/", password_reset.PasswordResetView.as_view(), name="password_reset"),
    path("password_reset/done/", password_reset.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("security/totp/setup/", views.totp_setup, name="totp-setup"),
    path("security/totp/", views.totp_enable, name="totp-enable"),
    path("security/totp/disable/", views.totp_disable, name="totp-disable"),
    path("security/backup-codes/", views.backup_codes, name="backup-codes"),
    path("security/backup-codes/new/", views.backup_codes_regenerate, name="backup-codes-regenerate"),
]
