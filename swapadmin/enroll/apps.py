from django.apps import AppConfig


class EnrollConfig(AppConfig):
    name = "swapadmin.enroll"
    label = "enroll"
    verbose_name = "Host enrolment"
