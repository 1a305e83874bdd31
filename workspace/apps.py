from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in


class WorkspaceConfig(AppConfig):
    name = "workspace"
    verbose_name = "Staff workspace"

    def ready(self) -> None:
        from workspace.security.middleware import remember_staff_session

        # The idle clock starts at sign-in, so the first page after it writes no session.
        user_logged_in.connect(remember_staff_session, dispatch_uid="workspace.security.remember_staff_session")
