from django.contrib import admin

from .models import Job, JobEvent


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "owner", "kind", "status", "progress", "created_at", "finished_at")
    list_filter = ("status", "kind")
    search_fields = ("owner__username", "kind")


@admin.register(JobEvent)
class JobEventAdmin(admin.ModelAdmin):
    list_display = ("id", "job", "kind", "time")
    list_filter = ("kind",)
