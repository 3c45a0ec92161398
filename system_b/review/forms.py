from django import forms

from .models import Review


class ReviewForm(forms.ModelForm):
    class Meta:
        model = Review
        fields = ["subject", "verdict", "note"]
        widgets = {"note": forms.Textarea(attrs={"rows": 3})}
