from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PatientsConfig(AppConfig):
    name = "patients"
    verbose_name = "Patients"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from patients.authentication import note_session_sign_in
        from patients.roles import sync_roles_after_migrate

        # Runs after every app's permissions exist (auth's own post_migrate
        # handler is connected earlier), so the role groups always match code.
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="patients.sync_roles")
        # A browser that signs in is listed among the login's devices at once.
        user_logged_in.connect(note_session_sign_in, dispatch_uid="patients.note_session_sign_in")
