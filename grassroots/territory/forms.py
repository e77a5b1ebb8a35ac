from django import forms

MAX_UPLOAD = 20 * 1024 * 1024


class ImportForm(forms.Form):
    tree = forms.FileField(label="辖区树 CSV（code,name,level,parent_code）", required=False)
    grids = forms.FileField(label="边界 GeoJSON（properties.code 对应节点代码）", required=False)
    dry_run = forms.BooleanField(label="只检查，不写入", required=False, initial=True)

    def clean(self):
        data = super().clean()
        if not data.get("tree") and not data.get("grids"):
            raise forms.ValidationError("请至少选择一个文件")
        for key, suffixes in (("tree", (".csv",)), ("grids", (".geojson", ".json"))):
            upload = data.get(key)
            if upload is None:
                continue
            if not upload.name.lower().endswith(suffixes):
                self.add_error(key, f"文件类型应为 {' 或 '.join(suffixes)}")
            elif upload.size > MAX_UPLOAD:
                self.add_error(key, "文件不能超过 20 MB")
        return data

    def text_of(self, key: str) -> str | None:
        upload = self.cleaned_data.get(key)
        if upload is None:
            return None
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError(f"{upload.name} 不是 UTF-8 编码的文本文件") from None
