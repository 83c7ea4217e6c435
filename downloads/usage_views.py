"""The stewards' usage dashboard at /admin/usage/ and its CSV (figures read in downloads.usage,
charts laid out in downloads.usage_charts)."""

import csv
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from downloads import usage_charts
from downloads.csv_export import Echo, csv_cell
from downloads.usage import UsageFilterForm, csv_rows, usage
from regards_catalog.errors import error_body
from regards_catalog.roles import sees_everything


def steward_or_403(request):
    """The admin lets staff in (admin_view); of them, stewards and superusers see usage."""
    if not sees_everything(request.user):
        raise PermissionDenied


def usage_page(request):
    steward_or_403(request)
    form = UsageFilterForm(request.GET)
    context = {
        **admin.site.each_context(request),
        "title": "Usage",
        "form": form,
    }
    if not form.is_valid():
        context["filter_errors"] = [
            (name, form.fields[name].label if name in form.fields else None, message)
            for name, messages in form.errors.items()
            for message in messages
        ]
        return TemplateResponse(request, "admin/usage.html", context, status=400)
    filters = form.filters()
    figures = usage(filters)
    query = urlencode(filters.as_query())
    context |= {
        # The form shows the dates in effect, the defaults included.
        "form": UsageFilterForm(filters.as_query()),
        "figures": figures,
        "csv_url": f"{reverse('admin-usage-csv')}?{query}",
        **page_tables(figures),
    }
    return TemplateResponse(request, "admin/usage.html", context)


def usage_csv(request):
    """The page's figures, same filters, as one CSV table."""
    steward_or_403(request)
    form = UsageFilterForm(request.GET)
    if not form.is_valid():
        message = " ".join(error for errors in form.errors.values() for error in errors)
        body = error_body("invalid_request", message, errors=form.errors.get_json_data())
        return JsonResponse(body, status=400)
    filters = form.filters()
    writer = csv.writer(Echo())
    lines = (
        writer.writerow([csv_cell(value) for value in row]) for row in csv_rows(usage(filters))
    )
    response = HttpResponse("".join(lines), content_type="text/csv; charset=utf-8")
    name = f"usage-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def count_text(number):
    return f"{number:,.0f}" if number == int(number) else f"{number:,.1f}"


def page_tables(figures):
    """The charts and the rows of their tables, from the same numbers."""
    series = usage_charts.palette_series([(d.dataset_id, d.label) for d in figures.datasets])
    coloured = {s.key for s in series}
    per_series = {}
    for (day, dataset_id), (count, size) in figures.per_day.items():
        key = dataset_id if dataset_id in coloured else "other"
        previous = per_series.get((day, key), (0, 0))
        per_series[(day, key)] = (previous[0] + count, previous[1] + size)
    days = [(day, f"{day:%b} {day.day}") for day in figures.filters.days]
    totals = {day: (count, size) for day, count, size in figures.day_totals()}

    def daily(index, text, figure, title, ceiling=usage_charts.nice_ceiling):
        chart = usage_charts.stacked_columns(
            id=f"chart-{figure}-per-day",
            title=title,
            columns=days,
            series=series,
            value=lambda day, key: per_series.get((day, key), (0, 0))[index],
            text=text,
            ceiling=ceiling,
        )
        table = usage_charts.DayTable(
            figure=figure,
            caption=title,
            series=series,
            rows=[
                (
                    day,
                    f"{day:%a} {day.day} {day:%b}",
                    [per_series.get((day, s.key), (0, 0))[index] for s in series],
                    totals[day][index],
                )
                for day, _ in days
            ],
            text=text,
        )
        return chart, table

    downloads_chart, downloads_table = daily(
        0, count_text, "downloads", "Downloads per day, by dataset"
    )
    bytes_chart, bytes_table = daily(
        1,
        usage_charts.size_text,
        "bytes",
        "Bytes sent per day, by dataset",
        usage_charts.nice_size_ceiling,
    )
    return {
        "downloads_chart": downloads_chart,
        "downloads_table": downloads_table,
        "bytes_chart": bytes_chart,
        "bytes_table": bytes_table,
        "refusals_chart": usage_charts.horizontal_bars(
            id="chart-refusals",
            title="Refusals and storage failures, by code",
            items=[(code, count) for _, code, count in figures.refusals],
            text=count_text,
        ),
        "users_chart": usage_charts.horizontal_bars(
            id="chart-top-users",
            title=f"Top {len(figures.top_users)} users by bytes sent",
            items=[(user["email"], user["bytes"]) for user in figures.top_users],
            text=usage_charts.size_text,
            ceiling=usage_charts.nice_size_ceiling,
        ),
        "restores_chart": usage_charts.horizontal_bars(
            id="chart-restores",
            title="Restore requests, by status",
            items=figures.restores,
            text=count_text,
        ),
        "slots_chart": usage_charts.horizontal_bars(
            id="chart-live-slots",
            title="Live download slots now, by caller",
            items=[(row["caller"], row["slots"]) for row in figures.live_slots],
            text=count_text,
        ),
    }
