"""`grassroots rotate-key`: re-seal every ID number and phone under the current PRIVACY_KEY, in
batches, while the platform keeps running (docs/operations.md, "Rotating the personal-data key").

The steps, in order:
  1. put the new key in PRIVACY_KEY and the old one in PRIVACY_OLD_KEYS, restart the web
     processes and the workers (they now seal with the new key and read both);
  2. run `grassroots rotate-key` (again after an interruption: it continues where rows are left);
  3. `grassroots rotate-key --check` reports every value under the new key;
  4. remove the old key from PRIVACY_OLD_KEYS and restart.
"""

import secrets
import time

from django.core.management.base import BaseCommand, CommandError

from grassroots.lib import privacy


class Command(BaseCommand):
    help = "用当前密钥（PRIVACY_KEY）重新加密所有身份证号和电话，分批进行，平台无需停机。"

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true",
                            help="只统计各密钥下的数据量，不写入；仍有旧密钥或明文数据时以非零状态退出")
        parser.add_argument("--batch", type=int, default=1000, help="每批行数（默认 1000）")
        parser.add_argument("--pause", type=float, default=0.0, help="每批之间暂停的秒数，减轻数据库负载（默认 0）")
        parser.add_argument("--generate", action="store_true", help="生成一个新的随机密钥并打印（不做其他事）")

    def handle(self, *args, check, batch, pause, generate, verbosity, **options):
        if generate:
            self.stdout.write(secrets.token_urlsafe(48))
            return
        if batch < 1:
            raise CommandError("--batch 应为正整数")
        current = privacy.current_key().kid
        old = [k.kid for k in privacy.live_keys()[1:]]
        self.stdout.write(f"当前密钥：{current}；仍可读取的旧密钥：{'、'.join(old) or '无'}")
        if check:
            self._check(current)
            return
        total = 0
        for model in privacy.personal_models():
            label = model._meta.verbose_name

            def say(model, done, last, label=label):
                self.stdout.write(f"  {label}：已重新加密 {done} 行（至 id {last}）")
                if pause:
                    time.sleep(pause)

            try:
                n = privacy.reseal(model, batch=batch, say=say if verbosity > 1 or pause else None)
            except privacy.DecryptionFailed as exc:
                raise CommandError(f"{exc}。请把写入这些数据的密钥加入 PRIVACY_OLD_KEYS 后重试。") from exc
            self.stdout.write(f"{label}（{model._meta.label}）：重新加密 {n} 行")
            total += n
        self.stdout.write(self.style.SUCCESS(
            f"完成：共重新加密 {total} 行。用 `grassroots rotate-key --check` 确认后，从 PRIVACY_OLD_KEYS 中删除旧密钥。"))

    def _check(self, current: str) -> None:
        left = 0
        for model in privacy.personal_models():
            for field, counts in privacy.key_census(model).items():
                verbose = model._meta.get_field(field).verbose_name
                parts = "，".join(f"{'当前密钥' if k == current else k} {n}" for k, n in sorted(counts.items())) or "无数据"
                self.stdout.write(f"{model._meta.verbose_name}.{verbose}：{parts}")
                left += sum(n for k, n in counts.items() if k != current)
        if left:
            raise CommandError(f"仍有 {left} 个值不在当前密钥下：请运行 `grassroots rotate-key`")
        self.stdout.write(self.style.SUCCESS("所有个人信息均已用当前密钥加密，可以删除旧密钥。"))
