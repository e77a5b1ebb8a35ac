"""Django's password validators with their messages in Chinese, whatever Django's zh-hans catalogue
holds (its minimum-length message is not translated in the plural form Django 5 uses): the same
rules on every path where a password is set (settings.AUTH_PASSWORD_VALIDATORS)."""

from django.contrib.auth import password_validation as base


class UserAttributeSimilarityValidator(base.UserAttributeSimilarityValidator):
    def get_error_message(self):
        return "密码与%(verbose_name)s太相似了。"

    def get_help_text(self):
        return "密码不能与用户名、姓名等个人信息太相似。"


class MinimumLengthValidator(base.MinimumLengthValidator):
    def get_error_message(self):
        return "密码太短，至少需要 %(min_length)d 个字符。"

    def get_help_text(self):
        return f"密码至少需要 {self.min_length} 个字符。"


class CommonPasswordValidator(base.CommonPasswordValidator):
    def get_error_message(self):
        return "这个密码太常见了，容易被猜到。"

    def get_help_text(self):
        return "密码不能是常见密码。"


class NumericPasswordValidator(base.NumericPasswordValidator):
    def get_error_message(self):
        return "密码不能全部是数字。"

    def get_help_text(self):
        return "密码不能全部是数字。"
