from __future__ import annotations

import secrets

import factory
from django.contrib.auth import get_user_model

from conversations.models import Conversation, Message
from restaurants.models import MenuCategory, MenuItem, Restaurant, Sender, StaffMembership


class RestaurantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Restaurant

    slug = factory.Sequence(lambda n: f"restaurant-{n}")
    name_en = factory.Sequence(lambda n: f"Restaurant {n}")
    name_ar = factory.Sequence(lambda n: f"مطعم {n}")
    welcome_text_en = factory.LazyAttribute(lambda o: f"Welcome to {o.name_en}!")
    welcome_text_ar = factory.LazyAttribute(lambda o: f"أهلاً بك في {o.name_ar}!")
    support_contact = "+966500000001"
    delivery_fee = "10.00"


class SenderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sender

    restaurant = factory.SubFactory(RestaurantFactory)
    provider = "twilio"
    phone_number = factory.Sequence(lambda n: f"+1555010{n % 10000:04d}")
    credentials = factory.LazyFunction(
        lambda: {"account_sid": "AC" + secrets.token_hex(16), "auth_token": secrets.token_hex(16)}
    )


class ConsoleSenderFactory(SenderFactory):
    provider = "console"
    credentials = factory.LazyFunction(lambda: {"auth_token": secrets.token_hex(16)})


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    sender = factory.SubFactory(SenderFactory)
    restaurant = factory.SelfAttribute("sender.restaurant")
    customer_phone = factory.Sequence(lambda n: f"+96650{n % 10000000:07d}")
    customer_id = factory.LazyAttribute(lambda o: o.customer_phone)
    customer_name = "Customer"


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    restaurant = factory.SelfAttribute("conversation.restaurant")
    direction = "in"
    provider = "twilio"
    body = "hello"
    status = "received"


class MenuCategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MenuCategory

    restaurant = factory.SubFactory(RestaurantFactory)
    name_en = factory.Sequence(lambda n: f"Category {n}")
    name_ar = factory.Sequence(lambda n: f"فئة {n}")


class MenuItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MenuItem

    category = factory.SubFactory(MenuCategoryFactory)
    restaurant = factory.SelfAttribute("category.restaurant")
    name_en = factory.Sequence(lambda n: f"Dish {n}")
    name_ar = factory.Sequence(lambda n: f"طبق {n}")
    price = "25.00"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def saved(self, create, extracted, **kwargs):
        if create:
            self.save()


class StaffMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffMembership

    user = factory.SubFactory(UserFactory)
    restaurant = factory.SubFactory(RestaurantFactory)
    role = "AGENT"
