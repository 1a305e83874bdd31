from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PatientsConfig(AppConfig):
    name = "patients"
    verbose_name = "Patients"

    def ready(self) -> None:
        from django.contrib.auth.models import User
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_save, pre_save

        from patients.authentication import note_session_sign_in
        from patients.roles import sync_roles_after_migrate
        from patients.services import password_changed_elsewhere, sign_out_after_password_save

        # Runs after every app's permissions exist (auth's own post_migrate
        # handler is connected earlier), so the role groups always match code.
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="patients.sync_roles")
        # A browser that signs in is listed among the login's devices at once.
        user_logged_in.connect(note_session_sign_in, dispatch_uid="patients.note_session_sign_in")
        # A password set outside the services (the admin, changepassword) revokes
        # the login's API tokens too, as a change or reset through them does.
        pre_save.connect(password_changed_elsewhere, sender=User, dispatch_uid="patients.password_changed")
        post_save.connect(sign_out_after_password_save, sender=User, dispatch_uid="patients.password_sign_out")
