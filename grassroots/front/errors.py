from django.http import JsonResponse
from django.shortcuts import render


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "接口不存在"}, status=404, json_dumps_params={"ensure_ascii": False})
    return render(request, "404.html", status=404)


def forbidden(request, exception=None):
    return render(request, "403.html", {"message": "您无权访问此页面"}, status=403)
